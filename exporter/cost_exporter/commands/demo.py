"""`cost-exporter demo`: the exporter as `serve` runs it, every provider at once, on fake data.

A first run of `serve` with the example config shows five manual bills. The demo starts the
fake billing APIs (`cost_exporter.demo.providers`, the same fake the tests use) on a free
loopback port, writes a config that enables every provider against it, and hands over to
`serve`: the collectors, HTTP client, schedule and views are the production ones; only the
data is made up. The fake varies its amounts per day (a weekday pattern) so that sparklines
look like a month of real use.

Made-up figures must never pass for real ones, or mix with them:
- only this command turns demo mode on (no environment variable or config key can), and it
  labels everything it serves (`cost_exporter_build_info{demo="true"}`, the status page);
- its state goes to a temporary directory removed at exit, unless COST_STATE_DIR names one
  explicitly; the config file it writes is temporary too;
- the caller's environment passes only its COST_* settings: a real credential in the shell
  never reaches the demo, and the fake's dummy ones live in the exporter's environment only.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import structlog

from cost_exporter import logs
from cost_exporter.commands import load, serve
from cost_exporter.demo import config as demo_config
from cost_exporter.demo.providers import FakeProviders
from cost_exporter.settings import Config, ExporterSettings

log = structlog.get_logger("cost_exporter")

Serve = Callable[[ExporterSettings, Config, Mapping[str, str], argparse.Namespace], int]


def _serve_demo(
    settings: ExporterSettings, config: Config, env: Mapping[str, str], args: argparse.Namespace
) -> int:
    return serve.serve(settings, config, env, args, demo=True)


def run(
    env: Mapping[str, str],
    args: argparse.Namespace,
    *,
    clock: Callable[[], datetime] | None = None,
    serve_with: Serve = _serve_demo,
) -> int:
    """Start the fake, write the demo config, serve until stopped, clean up.

    `clock` dates the fake's data (default: now); `serve_with` is what serves (tests pass
    their own to look at the settings and config without starting a server)."""
    now = clock or (lambda: datetime.now(UTC))
    explicit_state = env.get("COST_STATE_DIR") or None  # empty counts as unset (compose)
    work = Path(tempfile.mkdtemp(prefix="cost-exporter-demo-"))
    try:
        state_dir = Path(explicit_state) if explicit_state else work / "state"
        with FakeProviders(clock=now, daily_variation=True) as fake:
            config_file = demo_config.write(fake, work, now().date())
            demo_env = {
                **demo_config.environment(fake, env),
                "COST_CONFIG_FILE": str(config_file),
                "COST_STATE_DIR": str(state_dir),
            }
            # The config file is the demo's own: --config would point `load` elsewhere.
            demo_args = argparse.Namespace(**{**vars(args), "config": None})
            settings, config = load(demo_env, demo_args)
            logs.configure(settings.log_level, settings.log_format)
            log.warning(
                "demo_mode",
                message="every figure is made up by a local fake of the billing APIs",
                state_dir=str(state_dir),
                state_dir_removed_at_exit=not explicit_state,
                fake_apis=fake.url,
            )
            with _stopped_by_signals_as_exit():
                return serve_with(settings, config, demo_env, demo_args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _stopped_by_signals_as_exit() -> Iterator[None]:
    """Let SIGTERM and SIGINT end the demo through `finally`, so that its temporary files go.

    uvicorn shuts down gracefully on them, then raises the same signal again for the handler
    it found: the default SIGTERM handler would kill the process before any clean-up."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (tests run the demo in others)
        return

    def exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, exit_cleanly) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
