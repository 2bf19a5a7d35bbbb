"""`cost-exporter`: parse the command line and dispatch to the command's module
(`commands/`): serve (the default), check-config, collect --once, backfill, attribution,
providers, demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cost_exporter import __version__, backfill, logs
from cost_exporter.commands import (
    attribution,
    check_config,
    collect,
    demo,
    load,
    providers,
    serve,
)
from cost_exporter.errors import ConfigError
from cost_exporter.settings import environ

# Prometheus deletes blocks older than its retention (15 days by default; 400d in the
# shipped compose file, so a year of backfill survives): more months than that only help
# with a longer retention.
MAX_BACKFILL_MONTHS = 24


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cost-exporter",
        description="Daily snapshot of every cloud and SaaS bill, served as Prometheus metrics.",
    )
    root.add_argument("--version", action="version", version=f"cost-exporter {__version__}")
    root.add_argument("--config", type=Path, help="YAML config file (env COST_CONFIG_FILE)")
    root.add_argument("--host", help="listen address (env COST_EXPORTER_HOST, default 0.0.0.0)")
    root.add_argument("--port", type=int, help="listen port (env COST_EXPORTER_PORT, default 9210)")
    commands = root.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve /metrics and refresh daily (the default)")
    commands.add_parser("check-config", help="validate the environment and config file, then exit")
    collect = commands.add_parser(
        "collect", help="run every collector and print what it found (nothing is saved)"
    )
    collect.add_argument("--once", action="store_true", help="collect once and exit (required)")
    backfill = commands.add_parser(
        "backfill",
        help="write daily spend history as OpenMetrics for promtool tsdb create-blocks-from",
    )
    backfill.add_argument(
        "--months",
        type=_months,
        default=12,
        help="months before this one to read (default 12; each API's own limit applies)",
    )
    backfill.add_argument(
        "--output", default="-", help="OpenMetrics file to write (default: standard output)"
    )
    backfill.add_argument(
        "--provider", action="append", help="only this provider (repeat for several)"
    )
    attribute = commands.add_parser(
        "attribution",
        help="this month's spend per app from the saved snapshot, and what no rule matches yet",
    )
    attribute.add_argument(
        "--top",
        type=int,
        default=15,
        help="unallocated items to list, and values per breakdown of a bill (default 15)",
    )
    commands.add_parser("providers", help="list the providers this build supports")
    demo_command = commands.add_parser(
        "demo",
        help="serve every provider at once from fake billing APIs (made-up data, labelled)",
    )
    # SUPPRESS: given before `demo` (cost-exporter --port P demo), the value stays.
    demo_command.add_argument(
        "--host", default=argparse.SUPPRESS, help="listen address, as for serve"
    )
    demo_command.add_argument("--port", type=int, default=argparse.SUPPRESS, help="listen port")
    return root


def _months(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_BACKFILL_MONTHS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_BACKFILL_MONTHS}")
    return value


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = environ() if env is None else env
    command = args.command or "serve"
    if command == "providers":
        return providers.list_providers(sys.stdout)
    if command == "demo":
        # Before the config is loaded: the demo writes its own. Only this command turns
        # demo mode on; no environment variable or config key can.
        try:
            return demo.run(env, args)
        except ConfigError as exc:
            print(f"cost-exporter demo: configuration error\n{exc}", file=sys.stderr)
            return 2
    if command == "collect" and not args.once:
        print("cost-exporter collect: pass --once (it collects once and exits)", file=sys.stderr)
        return 2
    try:
        settings, config = load(env, args)
    except ConfigError as exc:
        print(f"cost-exporter: configuration error\n{exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    if command == "check-config":
        return check_config.check_config(config, sys.stdout)
    if command == "collect":
        return asyncio.run(collect.collect_once(settings, config, sys.stdout))
    if command == "attribution":
        return attribution.run(settings, config, sys.stdout, sys.stderr, top=args.top)
    if command == "backfill":
        return asyncio.run(
            backfill.run(
                config,
                settings,
                months=args.months,
                output=args.output,
                providers=args.provider,
                stdout=sys.stdout,
                stderr=sys.stderr,
            )
        )
    return serve.serve(settings, config, env, args)
