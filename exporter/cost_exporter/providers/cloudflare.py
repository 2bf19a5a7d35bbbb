"""Cloudflare: spend from the Billable Usage API, usage from the GraphQL Analytics API.

Endpoints, under `https://api.cloudflare.com/client/v4` with `Authorization: Bearer`:

* `GET /accounts/{id}/billable-usage/info`: is the account covered, and the
  billing-cycle anchor of each subscription;
* `GET /accounts/{id}/billable-usage?from&to`: FOCUS 1.3 records in the v4
  envelope (`success`, `errors`, `result`, `result_info` pages);
* `POST /graphql`: Workers invocations, R2 operations and R2 storage.

One API token with two read-only account permissions: *Billing Read* (spend)
and *Account Analytics Read* (usage). `billing: false` or `analytics: false`
turns a half off for a token that holds only one of them.

    cost_month_to_date{provider="cloudflare",account="default",service_name="Workers Standard Requests",currency="USD",source="api",charge_frequency="usage_based"} 0.75
    cost_usage{provider="cloudflare",account="default",metric="r2_class_a_operations"} 170000
    cost_bucket_usage{provider="cloudflare",account="default",bucket="assets",metric="r2_storage_bytes"} 5.001e+09
    cost_zone_month_to_date{provider="cloudflare",account="default",zone="shop.example.com",currency="USD"} 0.45
    cost_worker_usage{provider="cloudflare",account="default",script="api",metric="requests"} 1.2e+06

The billable-usage endpoint returns *nothing* unless `from..to` contains a
subscription's billing-cycle anchor day: an empty answer that would read as a
false 0. So each calendar month is fetched from the anchor day on or before its
1st (both windows stay within 62 days) and records are counted by
`ChargePeriodStart` in that month only.

A known zero: a covered account whose month has no records has been told by
Cloudflare that nothing was billed, so it exports one `service_name="total"`
series of 0 (up stays 1, the dashboard sum reads 0). That series never sits
next to per-service ones, so nothing overlaps. An account Cloudflare does not
cover (`covered: false`, e.g. an Enterprise contract), or a month whose every
record was unreadable, exports no spend at all: a 0 there would mean unknown.

Spend per zone (`cost_zone_month_to_date`) sums this month's `BilledCost` by the
record's `ZoneName` (else its `ZoneId`); account-level charges (no zone) are left
out, so the zones add up to less than the bill. Workers usage per script
(`cost_worker_usage`, requests and CPU seconds) comes from the same GraphQL rows
as the account totals. Both keep the `top_n` largest (zones by spend, scripts by
requests) and sum the rest into `other`; a Workers row without a script name is
counted in `other` too, so the scripts always add up to the account's usage.

Daily spend (`cost_last_day`, the backfill's history, one month per window) sums
`BilledCost` by the UTC day of `ChargePeriodStart`. Every spend figure keeps the
FOCUS `ChargeFrequency` of its records: a subscription is `recurring`, never usage.

GraphQL reports errors with HTTP 200 in `errors`; they fail the collection.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr, model_validator

from cost_exporter import catalog
from cost_exporter.breakdowns import OTHER, top_n
from cost_exporter.daily import DailySpend, utc_day
from cost_exporter.errors import CollectorError
from cost_exporter.focus_records import FocusRecord, parse_record, parse_timestamp
from cost_exporter.http_client import page_number_cursor
from cost_exporter.periods import days_in_month, month_start, next_month_start
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, BadRecord, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

ZERO_SERVICE = "total"
DEFAULT_CURRENCY = "USD"
# An unreadable anchor: a window from the 2nd of the month before holds every anchor day.
ANY_ANCHOR_DAY = 2
# v4 error codes (and their error_chain) that mean a bad token or a missing permission.
AUTH_CODES = frozenset({6003, 6100, 6101, 6102, 6103, 6111, 9103, 9106, 9107, 9109, 10000})
# GraphQL errors carry no status: classify them by the wording Cloudflare documents.
GRAPHQL_REASONS = (
    ("auth", ("authz", "authn", "unauthorized", "not authorized", "does not have access")),
    ("http_5xx", ("try again later", "internal server error")),
    ("rate_limited", ("rate limit", "budget depleted", "excessive resources", "too many")),
)
# developers.cloudflare.com/r2/pricing: the operation classes as the page lists them.
CLASS_A_NAMES = """ListBuckets PutBucket ListObjects PutObject CopyObject CompleteMultipartUpload
    CreateMultipartUpload LifecycleStorageTierTransition ListMultipartUploads UploadPart
    UploadPartCopy ListParts PutBucketEncryption PutBucketCors PutBucketLifecycleConfiguration"""
CLASS_B_NAMES = """HeadBucket HeadObject GetObject UsageSummary GetBucketEncryption
    GetBucketLocation GetBucketCors GetBucketLifecycleConfiguration"""
R2_CLASS_A, R2_CLASS_B = frozenset(CLASS_A_NAMES.split()), frozenset(CLASS_B_NAMES.split())
R2_FREE = frozenset({"DeleteObject", "DeleteBucket", "AbortMultipartUpload"})
GROUP_LIMIT = 10000
DEFAULT_TOP_N = 20
USAGE_METRICS = (
    "workers_requests",
    "workers_cpu_time_seconds",
    "r2_class_a_operations",
    "r2_class_b_operations",
    "r2_storage_bytes",
)

USAGE_QUERY = """
query CostExporterUsage($accountTag: string!, $start: Time, $end: Time, $storageStart: Time) {
  viewer {
    accounts(filter: {accountTag: $accountTag}) {
      workers: workersInvocationsAdaptive(
        limit: 10000, filter: {datetime_geq: $start, datetime_leq: $end}
      ) { sum { requests cpuTimeUs } dimensions { scriptName } }
      r2Operations: r2OperationsAdaptiveGroups(
        limit: 10000, filter: {datetime_geq: $start, datetime_leq: $end}
      ) { sum { requests } dimensions { actionType } }
      r2Storage: r2StorageAdaptiveGroups(
        limit: 10000, filter: {datetime_geq: $storageStart, datetime_leq: $end},
        orderBy: [datetime_DESC]
      ) { max { payloadSize metadataSize } dimensions { bucketName datetime } }
    }
  }
}
"""


class Config(HttpAccountConfig):
    base_url: str = "https://api.cloudflare.com/client/v4"
    token: SecretStr
    account_id: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    billing: bool = True
    """Spend from the Billable Usage API (permission Billing Read)."""
    analytics: bool = True
    """Usage from the GraphQL Analytics API (permission Account Analytics Read)."""
    top_n: int = Field(DEFAULT_TOP_N, ge=1)
    """Zones (by spend) and Worker scripts (by requests) kept; the rest is summed as `other`."""

    @model_validator(mode="after")
    def _something_to_collect(self) -> Config:
        if not (self.billing or self.analytics):
            raise ValueError("billing and analytics are both off: nothing to collect")
        return self


# --- the v4 envelope -------------------------------------------------------------


def unwrap(body: Any, what: str) -> Any:
    """`result` of a v4 envelope; `success: false` is an error even with HTTP 200."""
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise CollectorError("parse", f"{what}: not a Cloudflare API envelope")
    if body["success"]:
        return body.get("result")
    errors = [e for e in _list(body.get("errors")) if isinstance(e, dict)]
    chained = [c for e in errors for c in _list(e.get("error_chain")) if isinstance(c, dict)]
    codes = {e.get("code") for e in errors + chained}
    detail = "; ".join(f"{e.get('code')} {str(e.get('message', ''))[:100]}" for e in errors[:3])
    reason = "auth" if codes & AUTH_CODES else "http_4xx"
    raise CollectorError(reason, f"{what}: success=false ({detail or 'no error given'})")


def next_page(body: Any) -> str | None:
    """The next page of a v4 list. The billable-usage endpoint documents no paging, so a
    body without `result_info` is the whole answer; a `result_info` that cannot be read
    fails the collection rather than cut the month short."""
    if not isinstance(body, dict):
        return None
    result = body.get("result")
    items = len(result) if isinstance(result, list) else None
    return page_number_cursor(body.get("result_info"), items)


# --- spend --------------------------------------------------------------------------


def anchor_on_or_before(day: date, anchor_day: int) -> date:
    """The billing-cycle anchor date on or before `day`; days 29-31 clamp to short months."""
    candidate = day.replace(day=min(anchor_day, days_in_month(day)))
    if candidate <= day:
        return candidate
    before = day.replace(day=1) - timedelta(days=1)
    return before.replace(day=min(anchor_day, days_in_month(before)))


def window_start(month_first: date, anchor_days: Iterable[int]) -> date:
    return min((anchor_on_or_before(month_first, d) for d in anchor_days), default=month_first)


@dataclass(frozen=True)
class Coverage:
    covered: bool
    anchor_days: frozenset[int]


def parse_info(result: Any, ctx: Context) -> Coverage:
    if not isinstance(result, dict) or not isinstance(result.get("covered"), bool):
        raise CollectorError("parse", "billable-usage/info: no `covered` flag")
    days = set()
    for subscription in _list(result.get("subscriptions")):
        try:
            days.add(parse_timestamp(subscription["billing_cycle_anchor_timestamp"]).day)
        except (TypeError, KeyError, BadRecord) as exc:
            ctx.skip("subscription", f"no billing-cycle anchor: {exc}")
            days.add(ANY_ANCHOR_DAY)
    return Coverage(result["covered"], frozenset(days))


@dataclass
class MonthRecords:
    records: list[FocusRecord] = field(default_factory=list)
    unreadable: int = 0
    zones: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """(zone, currency) -> BilledCost of the records that name a zone."""


def zone_of(raw: Mapping[str, Any]) -> str | None:
    """The zone a record is charged to: `ZoneName`, else `ZoneId`; None for account charges."""
    for key in ("ZoneName", "ZoneId"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def read_records(result: Any, month_first: date, into: MonthRecords, ctx: Context) -> None:
    """Keep the records charged in `month_first`'s month; count those that cannot be read."""
    if not isinstance(result, list):
        raise CollectorError("parse", "billable-usage: `result` is not a list of records")
    for raw in result:
        try:
            if not isinstance(raw, dict):
                raise BadRecord(f"expected an object, got {type(raw).__name__}")
            record = parse_record(raw)
        except BadRecord as exc:
            into.unreadable += 1
            ctx.skip("billable_usage_record", str(exc))
            continue
        if record.month == (month_first.year, month_first.month):
            into.records.append(record)
            zone = zone_of(raw)
            if zone is not None:
                into.zones[(zone, record.currency)] += record.billed_cost


def spend_samples(family: catalog.Family, month: MonthRecords, currency: str) -> list[Sample]:
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for record in month.records:
        key = (record.service_name, record.charge_frequency, record.currency)
        totals[key] += record.billed_cost
    if not totals and not month.unreadable:
        totals[(ZERO_SERVICE, catalog.USAGE_BASED, currency)] = Decimal(0)
    return [
        Sample.of(
            family,
            Money(amount, cur),
            service_name=service,
            source="api",
            charge_frequency=frequency,
        )
        for (service, frequency, cur), amount in sorted(totals.items())
    ]


def zone_samples(month: MonthRecords, keep: int) -> list[Sample]:
    """This month's spend per zone, the `keep` largest per currency and the rest as `other`."""
    samples = []
    for currency in sorted({currency for _, currency in month.zones}):
        by_zone = {zone: v for (zone, cur), v in month.zones.items() if cur == currency}
        samples += [
            Sample.of(catalog.ZONE_MONTH_TO_DATE, Money(amount, currency), zone=zone)
            for zone, amount in sorted(top_n(by_zone, keep).items())
        ]
    return samples


async def fetch_month(
    config: Config,
    ctx: Context,
    headers: Mapping[str, str],
    month_first: date,
    until: date,
    anchor_days: Iterable[int],
) -> MonthRecords:
    url = f"{config.base_url}/accounts/{config.account_id}/billable-usage"
    params = {"from": window_start(month_first, anchor_days).isoformat(), "to": until.isoformat()}
    month = MonthRecords()
    async for page in ctx.http.paginate(url, params=params, headers=headers, next_cursor=next_page):
        read_records(unwrap(page, "GET billable-usage"), month_first, month, ctx)
    return month


def daily_spend(*months: MonthRecords) -> DailySpend:
    days = DailySpend()
    for month in months:
        for record in month.records:
            money = Money(record.billed_cost, record.currency)
            day = record.charge_period_start.date()
            days.add(day, record.service_name, money, record.charge_frequency)
    return days


async def coverage_of(config: Config, ctx: Context, headers: Mapping[str, str]) -> Coverage:
    info_url = f"{config.base_url}/accounts/{config.account_id}/billable-usage/info"
    body = await ctx.http.get_json(info_url, headers=headers)
    coverage = parse_info(unwrap(body, "GET billable-usage/info"), ctx)
    if not coverage.covered:
        ctx.log.warning(
            "cloudflare_account_not_covered", detail="no billable usage; spend left out"
        )
    return coverage


async def collect_spend(config: Config, ctx: Context, headers: Mapping[str, str]) -> list[Sample]:
    coverage = await coverage_of(config, ctx, headers)
    if not coverage.covered:
        return []
    this_month, last_month = ctx.month_start.date(), ctx.previous_month_start.date()
    anchors = coverage.anchor_days
    current = await fetch_month(config, ctx, headers, this_month, ctx.now.date(), anchors)
    previous = await fetch_month(config, ctx, headers, last_month, this_month, anchors)
    seen = [r.currency for r in current.records + previous.records]
    currency = seen[0] if seen else DEFAULT_CURRENCY
    return (
        spend_samples(catalog.MONTH_TO_DATE, current, currency)
        + spend_samples(catalog.PREVIOUS_MONTH, previous, currency)
        + zone_samples(current, config.top_n)
        + daily_spend(previous, current).completed(utc_day(ctx.now))
    )


async def history(config: Config, ctx: Context, start: datetime, end: datetime) -> list[Sample]:
    """Daily spend per service over [start, end), one calendar month per window (each
    window starts at the billing-cycle anchor, as for the live figures)."""
    if not config.billing:
        return []
    headers = {"Authorization": f"Bearer {config.token.get_secret_value()}"}
    coverage = await coverage_of(config, ctx, headers)
    if not coverage.covered:
        return []
    days = DailySpend()
    month = month_start(start)
    while month < end:
        following = next_month_start(month)
        until = min(following, end).date()
        records = await fetch_month(config, ctx, headers, month.date(), until, coverage.anchor_days)
        days.update(daily_spend(records))
        month = following
    return days.history(utc_day(start), utc_day(end))


# --- usage (GraphQL) ----------------------------------------------------------------


def graphql_account(body: Any) -> dict[str, Any]:
    """The one account node of a GraphQL answer; `errors` (sent with HTTP 200) raise."""
    if not isinstance(body, dict):
        raise CollectorError("parse", "POST graphql: answer is not a JSON object")
    errors = body.get("errors")
    if errors:
        errors = [e for e in _list(errors) if isinstance(e, dict)] or [{"message": str(errors)}]
        text = " ".join(
            f"{e.get('message', '')} {dig(e, 'extensions', 'code') or ''}" for e in errors
        )
        reason = next(
            (r for r, needles in GRAPHQL_REASONS if any(n in text.lower() for n in needles)),
            "http_4xx",
        )
        raise CollectorError(reason, f"POST graphql: {str(errors[0].get('message'))[:200]}")
    accounts = dig(body, "data", "viewer", "accounts")
    if not isinstance(accounts, list):
        raise CollectorError("parse", "POST graphql: no data.viewer.accounts")
    if not accounts or not isinstance(accounts[0], dict):
        raise CollectorError("empty", "POST graphql: the token sees no account with this id")
    return accounts[0]


def _rows(account: Mapping[str, Any], alias: str, ctx: Context) -> list[dict[str, Any]]:
    rows = account.get(alias)
    if not isinstance(rows, list):
        raise CollectorError("parse", f"POST graphql: no {alias} list")
    if len(rows) >= GROUP_LIMIT:
        raise CollectorError("parse", f"POST graphql: {alias} hit {GROUP_LIMIT} groups")
    good = [row for row in rows if isinstance(row, dict)]
    for _ in range(len(rows) - len(good)):
        ctx.skip(alias, "row is not an object")
    return good


def usage_samples(
    account: Mapping[str, Any], ctx: Context, keep: int = DEFAULT_TOP_N
) -> list[Sample]:
    """This month's Workers and R2 usage; a dataset without rows is a known 0."""
    usage = dict.fromkeys(USAGE_METRICS, Decimal(0))
    scripts: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in _rows(account, "workers", ctx):
        try:
            requests = to_decimal(dig(row, "sum", "requests"))
            cpu_us = to_decimal(dig(row, "sum", "cpuTimeUs"))
        except BadAmount as exc:
            ctx.skip("workers", str(exc))
            continue
        usage["workers_requests"] += requests
        usage["workers_cpu_time_seconds"] += cpu_us / 1_000_000
        script = dig(row, "dimensions", "scriptName")
        name = script if isinstance(script, str) and script else OTHER
        scripts[name]["requests"] += requests
        scripts[name]["cpu_time_seconds"] += cpu_us / 1_000_000
    for row in _rows(account, "r2Operations", ctx):
        action = dig(row, "dimensions", "actionType")
        try:
            count = to_decimal(dig(row, "sum", "requests"))
        except BadAmount as exc:
            ctx.skip("r2Operations", str(exc))
            continue
        if action in R2_CLASS_A:
            usage["r2_class_a_operations"] += count
        elif action in R2_CLASS_B:
            usage["r2_class_b_operations"] += count
        elif action not in R2_FREE:
            ctx.skip("r2Operations", f"unclassified R2 action {str(action)[:60]!r}")
    buckets = latest_storage(_rows(account, "r2Storage", ctx), ctx)
    usage["r2_storage_bytes"] = sum(buckets.values(), Decimal(0))
    samples = [Sample.of(catalog.USAGE, value, metric=name) for name, value in usage.items()]
    samples += [
        Sample.of(catalog.BUCKET_USAGE, size, bucket=bucket, metric="r2_storage_bytes")
        for bucket, size in sorted(buckets.items())
    ]
    return samples + worker_samples(scripts, keep)


def worker_samples(scripts: Mapping[str, Mapping[str, Decimal]], keep: int) -> list[Sample]:
    """Requests and CPU seconds of the `keep` scripts with most requests; the rest as `other`."""
    kept = set(top_n({s: m["requests"] for s, m in scripts.items() if s != OTHER}, keep))
    capped: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for script, metrics in scripts.items():
        for metric, value in metrics.items():
            capped[script if script in kept else OTHER][metric] += value
    return [
        Sample.of(catalog.WORKER_USAGE, value, script=script, metric=metric)
        for script, metrics in sorted(capped.items())
        for metric, value in sorted(metrics.items())
    ]


def latest_storage(rows: Iterable[Mapping[str, Any]], ctx: Context) -> dict[str, Decimal]:
    """Bucket -> payload + metadata bytes at the latest time reported for it."""
    latest: dict[str, tuple[datetime, Decimal]] = {}
    for row in rows:
        bucket = dig(row, "dimensions", "bucketName")
        try:
            if not isinstance(bucket, str) or not bucket:
                raise BadRecord("no bucketName")
            moment = parse_timestamp(dig(row, "dimensions", "datetime"))
            size = to_decimal(dig(row, "max", "payloadSize"))
            size += to_decimal(dig(row, "max", "metadataSize"))
        except (BadRecord, BadAmount) as exc:
            ctx.skip("r2Storage", str(exc))
            continue
        if bucket not in latest or moment > latest[bucket][0]:
            latest[bucket] = (moment, size)
    return {bucket: size for bucket, (_, size) in latest.items()}


async def fetch_usage(config: Config, ctx: Context, headers: Mapping[str, str]) -> dict[str, Any]:
    # Storage is a level, not a monthly sum: on the 1st, yesterday's level still holds.
    storage_start = min(ctx.month_start, ctx.now - timedelta(days=1))
    variables = {
        "accountTag": config.account_id,
        "start": iso_time(ctx.month_start),
        "end": iso_time(ctx.now),
        "storageStart": iso_time(storage_start),
    }
    body = await ctx.http.post_json(
        f"{config.base_url}/graphql",
        {"query": USAGE_QUERY, "variables": variables},
        headers=headers,
    )
    return graphql_account(body)


# --- wiring ----------------------------------------------------------------------------


async def collect(config: Config, ctx: Context) -> list[Sample]:
    headers = {"Authorization": f"Bearer {config.token.get_secret_value()}"}
    samples: list[Sample] = []
    if config.billing:
        samples += await collect_spend(config, ctx, headers)
    if config.analytics:
        samples += usage_samples(await fetch_usage(config, ctx, headers), ctx, config.top_n)
    return samples


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PROVIDER = ProviderSpec(
    name="cloudflare",
    config_model=Config,
    collect=collect,
    history=history,
    summary=(
        "Spend from the Billable Usage API (per service and per zone); Workers (per script) "
        "and R2 usage from GraphQL Analytics."
    ),
    env={
        "token": "CLOUDFLARE_API_TOKEN",
        "account_id": "CLOUDFLARE_ACCOUNT_ID",
        "base_url": "CLOUDFLARE_BASE_URL",
    },
)
