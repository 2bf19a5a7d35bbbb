"""`cost-exporter serve` (the default): restore the snapshot, serve it, refresh it daily;
SIGHUP reloads the config from the same environment."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Mapping

import structlog

from cost_exporter import __version__
from cost_exporter.commands import http_budgets, http_client, load, log_config_warnings
from cost_exporter.errors import ConfigError
from cost_exporter.refresher import Refresher
from cost_exporter.settings import Config, ExporterSettings

log = structlog.get_logger("cost_exporter")


def serve(
    settings: ExporterSettings,
    config: Config,
    env: Mapping[str, str],
    args: argparse.Namespace,
    *,
    demo: bool = False,
) -> int:
    """`demo`: only `cost-exporter demo` passes it, for data made up by its fake APIs."""
    import uvicorn

    from cost_exporter.app import create_app

    async def run() -> None:
        http = http_client(settings, config)
        refresher = Refresher(settings, config, http, demo=demo)
        refresher.restore()
        app = create_app(refresher)

        def reload() -> None:
            try:
                _, new_config = load(env, args)
            except ConfigError as exc:
                log.error("config_reload_failed", error=str(exc))
                return
            http.set_budgets(http_budgets(new_config))
            refresher.reload(new_config)
            log.info("config_reloaded", accounts=len(new_config.accounts))
            log_config_warnings(new_config)

        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        log.info(
            "listening",
            host=settings.host,
            port=settings.port,
            version=__version__,
            demo=demo,
            accounts=[f"{p}/{a}" for p, a in (e.key for e in config.accounts)],
        )
        log_config_warnings(config)
        try:
            await server.serve()
        finally:
            await http.aclose()

    asyncio.run(run())
    return 0
