"""Fixtures of the end-to-end alerting tests: see harness.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import binaries
from tests.e2e.harness import Binaries, Stack

StartStack = Callable[..., Stack]


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[StartStack]:
    """Start the exporter, Prometheus and Alertmanager; every one is stopped after the test.

    `start_stack(config, env=None, remote_write=None)`: `config` is the exporter's YAML
    config as a dict, `env` extra environment for the exporter (e.g. a fake provider's base
    URL), `remote_write` a `remote_write:` list for Prometheus' config.
    Skips without the binaries (fails when CI is set).
    """
    found = Binaries(
        prometheus=binaries.require(binaries.PROMETHEUS),
        alertmanager=binaries.require(binaries.ALERTMANAGER),
    )
    stacks: list[Stack] = []

    def start(
        config: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        remote_write: list[dict[str, Any]] | None = None,
    ) -> Stack:
        stack = Stack.start(tmp_path / f"stack{len(stacks)}", found, config, env, remote_write)
        stacks.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in stacks:
            stack.stop()
