"""`cost-exporter`: serve (the default), check-config, collect --once, backfill, attribution,
providers."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import structlog

from cost_exporter import __version__, attribution, backfill, catalog, logs
from cost_exporter import snapshot as snapshots
from cost_exporter.errors import ConfigError
from cost_exporter.exposition import collect_series, published_samples
from cost_exporter.http_client import Budget, HttpClient, RetryPolicy, budgets
from cost_exporter.providers import REGISTRY, config_warnings, env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import (
    UNALLOCATED,
    Attribution,
    Config,
    ExporterSettings,
    environ,
    load_config,
    load_exporter_settings,
)

log = structlog.get_logger("cost_exporter")
# Prometheus drops blocks older than its retention (400d in docker-compose.yml):
# more months than that only help with a longer retention.
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
    return root


def _months(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_BACKFILL_MONTHS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_BACKFILL_MONTHS}")
    return value


def load(env: Mapping[str, str], args: argparse.Namespace) -> tuple[ExporterSettings, Config]:
    overrides = {"host": args.host, "port": args.port, "config_file": args.config}
    settings = load_exporter_settings(env, overrides)
    config = load_config(env, settings.config_file, env_specs())
    http_budgets(config)  # a rate_limits: mistake fails here, at start-up or on SIGHUP
    secrets = set(config.secrets)
    if settings.refresh_token is not None:
        secrets.add(settings.refresh_token.get_secret_value())
    logs.REDACT.set_secrets(secrets)
    return settings, config


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = environ() if env is None else env
    command = args.command or "serve"
    if command == "providers":
        return list_providers(sys.stdout)
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
        accounts = ", ".join(f"{p}/{a}" for p, a in (e.key for e in config.accounts)) or "none"
        print(f"config OK ({config.source}): accounts {accounts}")
        for (provider, account), text in config_warnings(config):
            print(f"warning: {provider}/{account}: {text}")
        return 0
    if command == "collect":
        return asyncio.run(collect_once(settings, config, sys.stdout))
    if command == "attribution":
        return print_attribution(settings, config, sys.stdout, sys.stderr, top=args.top)
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
    return serve(settings, config, env, args)


def list_providers(out: TextIO) -> int:
    for name, spec in REGISTRY.items():
        env_names = ", ".join(spec.env.values()) or "(config file only)"
        print(f"{name:<12} {spec.summary}\n{'':<12} env: {env_names}", file=out)
    return 0


def log_config_warnings(config: Config) -> None:
    """What the configured accounts will not see, logged once per (re)load."""
    for (provider, account), text in config_warnings(config):
        log.warning("config_warning", provider=provider, account=account, warning=text)


def http_budgets(config: Config) -> dict[str, Budget]:
    overrides = {k: v.model_dump(exclude_none=True) for k, v in config.rate_limits.items()}
    try:
        return budgets(overrides)
    except ValueError as exc:
        raise ConfigError(f"{config.source}: rate_limits: {exc}") from None


def _http(settings: ExporterSettings, config: Config) -> HttpClient:
    return HttpClient(
        timeout_s=settings.http_timeout_s,
        retry=RetryPolicy(max_attempts=settings.http_max_attempts),
        budgets=http_budgets(config),
    )


async def collect_once(settings: ExporterSettings, config: Config, out: TextIO) -> int:
    http = _http(settings, config)
    try:
        refresher = Refresher(settings, config, http, persist=False)
        result = await refresher.refresh()
    finally:
        await http.aclose()
    print_table(refresher, out)
    return 0 if all(o.ok for o in result.accounts) else 1


def print_table(refresher: Refresher, out: TextIO) -> None:
    config = refresher.config
    series = collect_series(refresher.snapshot, config, refresher.clock())
    print(f"{'provider':<12} {'account':<12} {'state':<8} error", file=out)
    for state in sorted(refresher.snapshot.accounts.values(), key=lambda s: s.key):
        word = "ok" if state.up else "FAILED"
        print(
            f"{state.provider:<12} {state.account:<12} {word:<8} {state.last_error or ''}", file=out
        )
    print(f"\nMonth to date ({config.reporting_currency})", file=out)
    print_month_to_date(series.get(catalog.MONTH_TO_DATE, {}), out)
    usage = series.get(catalog.USAGE, {})
    if usage:
        print("\nUsage this month", file=out)
        width = max(len(metric) for _, _, metric in usage)
        for values in sorted(usage):
            provider, account, metric = values
            print(
                f"{provider:<12} {account:<12} {metric:<{width}} {usage[values]:>16,.0f}", file=out
            )


MTD_COLUMNS = ("provider", "account", "service_name", "source", "charge_frequency")


def print_month_to_date(mtd: Mapping[tuple[str, ...], Decimal], out: TextIO) -> None:
    """One line per series, whole names (columns as wide as their longest value), then a
    subtotal per provider account, the figure its console shows for the month."""
    rows = [
        (dict(zip(catalog.MONTH_TO_DATE.labels, values, strict=True)), mtd[values])
        for values in sorted(mtd)
    ]
    heads = ("provider", "account", "service", "source", "frequency")
    widths = [
        max([len(head), *(len(row[name]) for row, _ in rows)])
        for head, name in zip(heads, MTD_COLUMNS, strict=True)
    ]
    line_width = sum(widths) + len(widths)

    def line(cells: Sequence[str], amount: str) -> str:
        padded = " ".join(f"{cell:<{w}}" for cell, w in zip(cells, widths, strict=True))
        return f"{padded} {amount:>12}"

    print(line(heads, "amount"), file=out)
    groups: dict[tuple[str, str], list[tuple[dict[str, str], Decimal]]] = defaultdict(list)
    for row, amount in rows:
        groups[(row["provider"], row["account"])].append((row, amount))
    for (provider, account), group in groups.items():
        for row, amount in group:
            print(line([row[name] for name in MTD_COLUMNS], f"{amount:.2f}"), file=out)
        subtotal = sum((amount for _, amount in group), Decimal(0))
        print(f"{'subtotal ' + provider + '/' + account:<{line_width}}{subtotal:>12.2f}", file=out)
    print(f"{'total':<{line_width}}{sum(mtd.values(), Decimal(0)):>12.2f}", file=out)


def print_attribution(
    settings: ExporterSettings,
    config: Config,
    out: TextIO,
    err: TextIO,
    *,
    top: int = 15,
    now: datetime | None = None,
) -> int:
    """Spend per app this month and the largest unallocated items, from the saved snapshot
    and the current config, with the `match:` of a rule that would take each item."""
    path = settings.state_dir / snapshots.FILE_NAME
    try:
        saved = snapshots.Snapshot.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        print(f"cost-exporter: no snapshot at {path}: start the exporter first", file=err)
        return 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cost-exporter: cannot read the snapshot {path}: {exc}", file=err)
        return 1
    snapshot = saved.for_accounts(entry.key for entry in config.accounts)
    newest = max((s.last_success for s in snapshot.accounts.values() if s.last_success), default=0)
    # The report describes the snapshot's own month: read on the 3rd, a snapshot of the
    # 30th still shows that month, not an empty one.
    now = now or datetime.fromtimestamp(newest, UTC)
    collected = [
        (state.provider, list(published_samples(state, config, now)))
        for state in snapshot.accounts.values()
    ]
    rules = config.attribution or Attribution()
    result = attribution.report(rules, collected)
    currency = config.reporting_currency
    when = datetime.fromtimestamp(newest, UTC).strftime("of %Y-%m-%d %H:%M UTC")
    print(
        f"Spend this month per app ({currency}), snapshot {when if newest else 'empty'}", file=out
    )
    if config.attribution is None:
        print(
            "The config has no attribution: section, so everything is unallocated and /metrics "
            "publishes no allocated series (README: Attribute costs to apps).",
            file=out,
        )
    print(
        f"{'app':<20} {'team':<14} {'app_env':<10} {'amount':>12} {'budget':>12} {'used':>5}",
        file=out,
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for target, amount in result.apps.items():
        totals[target.app] += amount
    # Largest app first, its teams and environments together; what no rule takes last.
    order = sorted(
        result.apps, key=lambda t: (t.app == UNALLOCATED, -totals[t.app], t.app, -result.apps[t], t)
    )
    shown: set[str] = set()
    for target in order:
        budget = rules.app_budgets.get(target.app)
        cap = ""
        if budget is not None and target.app not in shown:
            used = f"{totals[target.app] / budget:>5.0%}" if budget else ""
            cap = f"{budget:>12.2f} {used}"
        shown.add(target.app)
        amount = result.apps[target]
        line = f"{target.app:<20} {target.team:<14} {target.app_env:<10} {amount:>12.2f} {cap}"
        print(line.rstrip(), file=out)
    print(f"{'total (= cost_month_to_date)':<46} {result.total:>12.2f}", file=out)
    known = set(REGISTRY) | {v for entry in config.accounts for v in entry.config.vendors()}
    if result.unallocated:
        print("\nLargest unallocated items: a rule with this match takes one", file=out)
        print(f"{'amount':>12}  match", file=out)
        for item in result.unallocated[:top]:
            note = ""
            if item.dimension is None:
                note = f"  # not covered by its {rules.breakdown(item.collector)} breakdown"
            match = attribution.suggested_match(item, known)
            print(f"{item.amount:>12.2f}  {match}{note}", file=out)
        if len(result.unallocated) > top:
            print(f"{'':>12}  ... {len(result.unallocated) - top} more (--top)", file=out)
    if result.other_values:
        print(
            "\nOr attribute these bills by a breakdown (the rules of one provider match one "
            "breakdown;\nwhat it does not cover goes to a rule without a dimension):",
            file=out,
        )
        # Up to `top` lines per bill and breakdown, so a provider with several breakdowns
        # (Cloudflare: bucket, script, zone) does not crowd out the providers after it.
        groups: dict[tuple[str, str, str], list[attribution.Item]] = defaultdict(list)
        for breakdown, item in result.other_values:
            groups[(item.collector, item.account, breakdown)].append(item)
        for (_, _, breakdown), items in groups.items():
            for item in items[:top]:
                match = attribution.suggested_match(item, known)
                note = (
                    ""
                    if item.dimension is not None
                    else f"  # not covered by its {breakdown} breakdown"
                )
                print(f"{item.amount:>12.2f}  {match}{note}", file=out)
            if len(items) > top:
                print(f"{'':>12}  ... {len(items) - top} more (--top)", file=out)
    return 0


def serve(
    settings: ExporterSettings,
    config: Config,
    env: Mapping[str, str],
    args: argparse.Namespace,
) -> int:
    import uvicorn

    from cost_exporter.app import create_app

    async def run() -> None:
        http = _http(settings, config)
        refresher = Refresher(settings, config, http)
        refresher.restore()
        app = create_app(refresher)

        def reload() -> None:
            try:
                _, new_config = load(environ(), args)
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
            accounts=[f"{p}/{a}" for p, a in (e.key for e in config.accounts)],
        )
        log_config_warnings(config)
        try:
            await server.serve()
        finally:
            await http.aclose()

    asyncio.run(run())
    return 0
