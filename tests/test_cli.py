from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from cost_exporter.cli import main, parser
from cost_exporter.commands import load
from cost_exporter.commands.serve import serve
from cost_exporter.providers import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "exporter" / "config.example.yml"


def test_check_config_accepts_the_bundled_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"], env={"COST_CONFIG_FILE": str(EXAMPLE)}) == 0
    assert "config OK" in capsys.readouterr().out


def test_check_config_says_what_a_valid_config_will_not_see(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config"], env={"VERCEL_API_TOKEN": "vercel-token-0123"}) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "config OK (environment): accounts vercel/default"
    [warning] = out[1:]
    assert warning.startswith("warning: vercel/default: team_id (VERCEL_TEAM_ID) is not set")
    assert "team-owned projects is not visible" in warning


def test_check_config_prints_no_warning_when_nothing_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"VERCEL_API_TOKEN": "vercel-token-0123", "VERCEL_TEAM_ID": "team_0123"}
    assert main(["check-config"], env=env) == 0
    assert "warning" not in capsys.readouterr().out


def test_start_up_and_reload_log_what_the_config_will_not_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    env = {"VERCEL_API_TOKEN": "vercel-token-0123", "COST_STATE_DIR": str(tmp_path)}
    args = parser().parse_args([])
    settings, config = load(env, args)

    logged: list[dict[str, object]] = []

    async def served(self: uvicorn.Server) -> None:
        os.kill(os.getpid(), signal.SIGHUP)  # a reload, as `kill -HUP` would send
        for _ in range(200):
            if any(e["event"] == "config_reloaded" for e in logged):
                return
            await asyncio.sleep(0.01)

    monkeypatch.setattr(uvicorn.Server, "serve", served)
    # The reload reads the environment serve() was given, not the process's.
    with structlog.testing.capture_logs() as captured:
        logged = captured
        assert serve(settings, config, env, args) == 0
    warnings = [e for e in logged if e["event"] == "config_warning"]
    assert [(e["provider"], e["account"], e["log_level"]) for e in warnings] == [
        ("vercel", "default", "warning")
    ] * 2  # at start-up and after the reload
    assert "VERCEL_TEAM_ID" in warnings[0]["warning"]


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
