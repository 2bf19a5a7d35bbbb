"""A missing binary skips the bundle tests on a laptop and fails them in CI."""

from __future__ import annotations

import pytest

from tests.e2e import binaries


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries.shutil, "which", lambda name, path=None: None)


@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_binary_skips_without_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install prometheus"):
        binaries.require(binaries.PROMTOOL)


@pytest.mark.usefixtures("nothing_installed")
@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_a_missing_binary_fails_when_ci_is_set(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        binaries.require(binaries.ALERTMANAGER)


@pytest.mark.parametrize(
    ("value", "ci"), [("", False), ("0", False), ("false", False), ("true", True)]
)
def test_ci_counts_as_set_unless_empty_or_false(value: str, ci: bool) -> None:
    assert binaries.in_ci({"CI": value}) is ci
    assert binaries.in_ci({}) is False
