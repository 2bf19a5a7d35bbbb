"""Find the Prometheus and Alertmanager binaries the bundle tests run.

Without them a developer's run skips those tests, saying what to install. With
the environment variable `CI` set (to anything but "", "0", "false" or "no")
a missing binary is a failure instead: CI installs the Debian packages
`prometheus` (prometheus, promtool) and `prometheus-alertmanager`
(prometheus-alertmanager, amtool), and a check that silently skipped there
would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime

import pytest

INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"

PROMETHEUS = ("prometheus",)
PROMTOOL = ("promtool",)
# Debian names the server prometheus-alertmanager; upstream tarballs call it alertmanager.
ALERTMANAGER = ("prometheus-alertmanager", "alertmanager")
AMTOOL = ("amtool",)
# libfaketime moves the clock of a Python subprocess (not of Go binaries).
FAKETIME = ("faketime",)
HINTS = {FAKETIME: "apt-get install faketime"}


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if env is None else env).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def find(names: tuple[str, ...]) -> str | None:
    """The first of `names` on PATH (or in /usr/bin), or None."""
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
        if path:
            return path
    return None


def require(names: tuple[str, ...]) -> str:
    """The path of a binary; skips the test without it, or fails it when CI is set."""
    path = find(names)
    if path is not None:
        return path
    hint = HINTS.get(names, INSTALL_HINT)
    reason = f"{' or '.join(names)} not found on PATH (install it: {hint})"
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def exporter_at(moment: datetime, *args: str) -> list[str]:
    """`python -m cost_exporter ARGS` under libfaketime, its clock starting at `moment` and
    running on (`@`: a clock that stood still would stop asyncio's timers)."""
    at = moment.strftime("@%Y-%m-%d %H:%M:%S")
    return [require(FAKETIME), "-f", at, sys.executable, "-m", "cost_exporter", *args]
