"""Vercel: spend, usage and per-project spend from the FOCUS billing charges stream.

Endpoint: `GET /v1/billing/charges?from&to&teamId`, one FOCUS 1.3 record per
line (JSONL, maybe gzip), read once for this month (1st 00:00 UTC to now)
and once for the previous month. Vercel has no read-only token: create a
token scoped to the team only, held by a member with the Billing (or Viewer
for Enterprise) role, which the endpoint requires.

    cost_month_to_date{provider="vercel",account="default",service_name="Function Invocations",currency="USD",source="api",charge_frequency="usage_based"} 1.84
    cost_usage{provider="vercel",account="default",metric="fast_data_transfer_bytes"} 1.25e+10
    cost_project_month_to_date{provider="vercel",account="default",project="web",currency="USD"} 1.84

Spend is `BilledCost` per `ServiceName` and charge frequency, credits and
adjustments with their sign; the plan fee is a `Purchase` and never counts as
usage. Usage sums `ConsumedQuantity` of `Usage` lines, converted to base units
and named after the unit (the name a usage limit's key in the config matches).
Daily spend (`cost_last_day`, and the backfill's history in windows of at most
a year) groups `BilledCost` by the UTC day of `ChargePeriodStart`. A month
without a single charge line
yields no spend series: there is no service a 0 could be attributed to, and
`cost_collector_up` already tells that Vercel answered.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import Field, SecretStr

from cost_exporter import catalog
from cost_exporter.breakdowns import top_n
from cost_exporter.daily import DailySpend, utc_day
from cost_exporter.errors import CollectorError
from cost_exporter.focus_records import FocusRecord, parse_record, snake
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadRecord, Money, Sample
from cost_exporter.settings import HttpAccountConfig

PATH = "/v1/billing/charges"
MAX_RANGE = timedelta(days=365)  # the endpoint answers at most one year per request
UNKNOWN_PROJECT = "unknown"

# Decimal (SI) prefixes: Vercel bills "GB" as 10^9 bytes.
BYTE_UNITS = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
SECOND_UNITS = {"seconds": 1, "second": 1, "s": 1, "minutes": 60, "minute": 60, "hours": 3600}
GB_HOUR_UNITS = {"gbhours", "gbhour", "gbhrs", "gbhr", "gbh"}
COUNT_UNITS = {"invocations", "requests", "executions", "count", "units", "calls"}


class Config(HttpAccountConfig):
    base_url: str = "https://api.vercel.com"
    token: SecretStr
    team_id: str | None = None
    top_projects: int = Field(20, ge=1, le=500)
    """Projects shown by name in the per-project breakdown; the rest sum into `other`."""


def usage_metric(service_name: str, unit: str) -> tuple[str, Decimal]:
    """(metric label value, factor to base units) for a service billed in `unit`."""
    name, key = snake(service_name), unit.lower().replace(" ", "")
    compact = key.replace("-", "").replace("_", "")
    if key in BYTE_UNITS:
        return f"{name}_bytes", Decimal(BYTE_UNITS[key])
    if compact in GB_HOUR_UNITS:
        return f"{name}_gb_hours", Decimal(1)
    if key in SECOND_UNITS:
        return f"{name}_seconds", Decimal(SECOND_UNITS[key])
    suffix = snake(unit)
    if key in COUNT_UNITS or not suffix or name.endswith(suffix):
        return name, Decimal(1)
    return f"{name}_{suffix}", Decimal(1)


@dataclass
class Month:
    """What one month's stream adds up to."""

    spend: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """(service_name, charge_frequency, currency) -> amount"""
    usage: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    projects: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    days: DailySpend = field(default_factory=DailySpend)

    def add(self, record: FocusRecord) -> None:
        frequency = record.charge_frequency
        self.spend[(record.service_name, frequency, record.currency)] += record.billed_cost
        money = Money(record.billed_cost, record.currency)
        self.days.add(record.charge_period_start.date(), record.service_name, money, frequency)
        project = record.tags.get("ProjectName") or UNKNOWN_PROJECT
        self.projects[(project, record.currency)] += record.billed_cost
        # Only usage lines measure consumption; a credit's quantity would count twice.
        usage_line = record.charge_category in ("", "Usage")
        if usage_line and record.consumed_quantity is not None and record.consumed_unit:
            metric, factor = usage_metric(record.service_name, record.consumed_unit)
            self.usage[metric] += record.consumed_quantity * factor


def parse_line(line: str) -> FocusRecord:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, nesting 10^5 deep
        raise BadRecord(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(row, dict):
        raise BadRecord(f"expected an object, got {type(row).__name__}")
    # Vercel bills in USD and documents the field; only default it if it goes missing.
    return parse_record(row, default_currency="USD")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def read_month(config: Config, ctx: Context, start: datetime, end: datetime) -> Month:
    params = {"from": _iso(start), "to": _iso(end)}
    if config.team_id:
        params["teamId"] = config.team_id
    headers = {"Authorization": f"Bearer {config.token.get_secret_value()}"}
    month, good, bad, number = Month(), 0, 0, 0
    async for line in ctx.http.iter_lines(config.base_url + PATH, params=params, headers=headers):
        number += 1
        if not line.strip():
            continue
        try:
            month.add(parse_line(line))
            good += 1
        except BadRecord as exc:
            bad += 1
            ctx.skip("vercel_charge", f"{params['from'][:7]} line {number}: {exc}")
    if bad and not good:
        raise CollectorError("parse", f"GET {PATH}: none of {bad} lines is a FOCUS record")
    return month


async def collect(config: Config, ctx: Context) -> list[Sample]:
    current = await read_month(config, ctx, ctx.month_start, ctx.now)
    previous = await read_month(config, ctx, ctx.previous_month_start, ctx.month_start)
    samples = [
        Sample.of(
            family,
            Money(amount, currency),
            service_name=name,
            source="api",
            charge_frequency=frequency,
        )
        for family, month in ((catalog.MONTH_TO_DATE, current), (catalog.PREVIOUS_MONTH, previous))
        for (name, frequency, currency), amount in sorted(month.spend.items())
    ]
    samples += [
        Sample.of(catalog.USAGE, amount, metric=metric)
        for metric, amount in sorted(current.usage.items())
    ]
    today = utc_day(ctx.now)
    samples += previous.days.completed(today) + current.days.completed(today)
    for currency in sorted({currency for _, currency in current.projects}):
        by_project = {p: v for (p, c), v in current.projects.items() if c == currency}
        for project, amount in top_n(by_project, config.top_projects).items():
            samples.append(
                Sample.of(catalog.PROJECT_MONTH_TO_DATE, Money(amount, currency), project=project)
            )
    return samples


def warnings(config: Config) -> list[str]:
    if config.team_id:
        return []
    # Without teamId Vercel's REST API acts for the token's personal account.
    return [
        "team_id (VERCEL_TEAM_ID) is not set: only the personal account's charges are read, "
        "so the spend of team-owned projects is not visible"
    ]


async def history(config: Config, ctx: Context, start: datetime, end: datetime) -> list[Sample]:
    """Daily spend per service over [start, end), read in windows of at most one year."""
    days = DailySpend()
    window = start
    while window < end:
        window_end = min(window + MAX_RANGE, end)
        days.update((await read_month(config, ctx, window, window_end)).days)
        window = window_end
    return days.history(utc_day(start), utc_day(end))


PROVIDER = ProviderSpec(
    name="vercel",
    config_model=Config,
    collect=collect,
    history=history,
    warnings=warnings,
    summary="Vercel spend, usage and per-project spend from the FOCUS billing charges stream.",
    env={"token": "VERCEL_API_TOKEN", "team_id": "VERCEL_TEAM_ID", "base_url": "VERCEL_BASE_URL"},
)
