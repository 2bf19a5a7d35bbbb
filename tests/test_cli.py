from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cost_exporter.cli import main
from cost_exporter.providers import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "exporter" / "config.example.yml"


def test_check_config_accepts_the_bundled_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"], env={"COST_CONFIG_FILE": str(EXAMPLE)}) == 0
    assert "config OK" in capsys.readouterr().out


def test_bad_config_exits_non_zero_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "costs.yml"
    bad.write_text("budgets:\n  - {provider: vercel, monthly: lots}\n")
    assert main(["check-config"], env={"COST_CONFIG_FILE": str(bad)}) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "budgets.0.monthly" in err


def test_serve_with_bad_config_fails_at_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "costs.yml"
    bad.write_text("reporting_currency: dollars\n")
    result = subprocess.run(
        [sys.executable, "-m", "cost_exporter", "--port", "1"],
        env={"COST_CONFIG_FILE": str(bad), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "reporting_currency" in result.stderr


def test_collect_once_prints_the_example_bills(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "--once"], env={"COST_CONFIG_FILE": str(EXAMPLE)}) == 0
    out = capsys.readouterr().out
    assert "ovh" in out
    assert "270.00" in out  # 250 EUR x 1.08
    assert "manual       default      ok" in out


def test_providers_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"], env={}) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert name in out
