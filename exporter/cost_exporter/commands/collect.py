"""`cost-exporter collect --once`: every collector once, printed; nothing is saved."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TextIO

from cost_exporter import catalog
from cost_exporter.commands import http_client
from cost_exporter.refresher import Refresher
from cost_exporter.settings import Config, ExporterSettings


async def collect_once(settings: ExporterSettings, config: Config, out: TextIO) -> int:
    http = http_client(settings, config)
    try:
        refresher = Refresher(settings, config, http, persist=False)
        result = await refresher.refresh()
    finally:
        await http.aclose()
    print_table(refresher, out)
    return 0 if all(o.ok for o in result.accounts) else 1


def print_table(refresher: Refresher, out: TextIO) -> None:
    config = refresher.config
    figures = refresher.figures
    print(f"{'provider':<12} {'account':<12} {'state':<8} error", file=out)
    for state in sorted(refresher.snapshot.accounts.values(), key=lambda s: s.key):
        word = "ok" if state.up else "FAILED"
        print(
            f"{state.provider:<12} {state.account:<12} {word:<8} {state.last_error or ''}", file=out
        )
    print(f"\nMonth to date ({config.reporting_currency})", file=out)
    print_month_to_date(figures.values_of(catalog.MONTH_TO_DATE), out)
    usage = figures.values_of(catalog.USAGE)
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
