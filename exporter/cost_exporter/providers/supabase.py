"""Supabase: plan fee, estimated add-on prices and usage from the Management API.

Supabase publishes no bill, so spend is built from what is known: the plan fee
from the config or the dated list price (`source="manual"`, both months) and,
for this month, the price of each project's add-ons from
`GET /v1/projects/{ref}/billing/addons` accrued over the completed days
(`source="estimated"`), less the compute credits paid plans include.

Usage, summed over the projects of the account (one organisation):

* `POST /v1/projects/{ref}/database/query/read-only` (run as
  `supabase_read_only_user`): `pg_database_size`, and the rows of every table.
  Rows come from `pg_stat_user_tables.n_live_tup`, the statistics' count of
  live rows, kept up to date as rows are written: it costs no table scan,
  where `count(*)` over every table would read the whole database each day.
  Where the statistics hold nothing (`n_live_tup` 0 after a statistics reset,
  a crash or a restore, until the table is written to again) the row count is
  `pg_class.reltuples`, the planner's estimate from the last VACUUM or ANALYZE
  (-1, never analysed, counts as 0). Both are estimates, not `count(*)`.
  Tables are named `schema.table`; the top `top_tables` by rows get a series
  each, the rest sum into `other`, and a table with a usage limit of its own
  (`database_rows:<schema>.<table>`) is never folded, so its limit compares
  like any other: it gets a `cost_usage` series under that same key.
* `GET /v1/projects/{ref}/config/disk/util`: disk size and use.
* `GET /v1/projects/{ref}/analytics/endpoints/usage.api-counts?interval=7day`:
  request counts (REST, Auth, Storage, Realtime) in one bucket per UTC day over
  the last 7 days (Supabase's dashboard draws each of its bars as one day). The
  window total is `cost_supabase_api_requests_7d`. Each complete day of the
  window (whole inside it, ended before now) is recorded in the account's
  ledger, keyed by project and day: a second reading of a day replaces the
  first, keeping the larger figure (late log lines add to a day, expiring ones
  must not take it away), so no day counts twice. The month-to-date is the sum
  of the days of this month recorded for every project
  (`source="estimated"`), with the days covered and missing beside it. A day
  without a row is 0 requests on a paid plan, whose log retention (7 days on
  Pro, more above) covers the whole window; on the free plan (1 day) or an
  unset plan it is missing, never 0.
* `GET /v1/projects/{ref}/functions`, then one
  `GET .../analytics/endpoints/functions.combined-stats?interval=1day&function_id=`
  per function: invocations in the 24 hours before now. The API has no
  calendar window for them, so there is no month-to-date: the top
  `top_functions` by invocations and `other`, by slug.

    cost_month_to_date{provider="supabase",account="default",service_name="Plan",currency="USD",source="manual",charge_frequency="recurring"} 25
    cost_usage{provider="supabase",account="default",metric="database_rows"} 1.2e+06
    cost_table_rows{provider="supabase",account="default",table="public.events"} 1.1e+06

Credential: a scoped access token (`sbp_...`) for the listed projects with the
read permissions `infra_add_ons_read`, `database_read`, `infra_disk_config_read`,
`analytics_usage_read` (request and function statistics) and
`edge_functions_read` (the function list).

Requests per refresh and project: billing/addons (not on the free plan), two
read-only queries, disk/util, api-counts and the function list (`api_requests:
false` and `functions: false` leave those out), one project after another;
then one per function while the account's `request_budget` (default 50) lasts.
Supabase allows 60 Management API requests a minute per user, across all of
that user's tokens (https://supabase.com/docs/reference/api, "Rate limits"),
so a collection of at most 50 requests stays under it whatever its pace; a 429
still waits out its Retry-After. Functions past the budget are counted as
skipped and `other` is then left out, since it would miss them.

Any failed request fails the whole account, so the last good values stay. A
figure missing from one project's answer is counted as skipped and leaves that
usage series out: a sum over fewer projects would pass for the total. Several
projects in one account add up per table name and per function slug; give each
project its own account to tell them apart. Overages (egress, storage, MAU)
and add-ons of the previous month are not in the API: `cost_previous_month`
holds the plan fee only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from cost_exporter import catalog, ledger
from cost_exporter.breakdowns import OTHER
from cost_exporter.errors import CollectorError
from cost_exporter.periods import completed_days, days_in_month
from cost_exporter.pricing import ListPrice
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

USD = "USD"
PROJECT_REF = re.compile(r"[a-z]{20}")
DB_SIZE_QUERY = "select pg_database_size(current_database()) as bytes"
TABLE_ROWS_QUERY = (
    "select s.schemaname as schema_name, s.relname as table_name,"
    " s.n_live_tup as live_rows, c.reltuples as estimated_rows"
    " from pg_stat_user_tables s join pg_class c on c.oid = s.relid"
)
PRICES_CHECKED = date(2026, 11, 23)
PRICE_LIST = "https://supabase.com/pricing"
PLAN_PRICES = {
    plan: ListPrice(Decimal(amount), PRICES_CHECKED, PRICE_LIST)
    for plan, amount in {"free": 0, "pro": 25, "team": 599}.items()
}
# Paid plans include $10 a month of compute, which covers one Micro instance.
COMPUTE_CREDITS = {
    plan: ListPrice(Decimal(10), PRICES_CHECKED, PRICE_LIST) for plan in ("pro", "team")
}
PAID_PLANS = frozenset({"pro", "team", "enterprise"})
ADDON_SERVICES = {
    "compute_instance": "Compute",
    "pitr": "Point-in-time recovery",
    "custom_domain": "Custom domain",
    "ipv4": "IPv4",
    "auth_mfa_phone": "Auth MFA phone",
    "auth_mfa_web_authn": "Auth MFA WebAuthn",
    "log_drain": "Log drain",
    "etl_pipeline": "ETL pipeline",
}
COMPUTE, COMPUTE_CREDITS_SERVICE, PLAN_SERVICE = "Compute", "Compute credits", "Plan"
DATABASE_ROWS = "database_rows"
TABLE_LIMIT = f"{DATABASE_ROWS}:"
"""A usage limit keyed `database_rows:<schema>.<table>` caps one table."""
# A Postgres identifier holds at most 63 bytes, so no real schema.table is longer.
MAX_TABLE_NAME = 2 * 63 + 1
API_COUNT_FIELDS = (
    "total_auth_requests",
    "total_realtime_requests",
    "total_rest_requests",
    "total_storage_requests",
)
API_WINDOW = timedelta(days=7)
LEDGER_API = "api_requests"
# Supabase's Management API allows 60 requests a minute per user, across all of the
# user's tokens (https://supabase.com/docs/reference/api, "Rate limits"). A collection of
# at most 50 stays under it at any pace and leaves room for the user's other tools.
DEFAULT_REQUEST_BUDGET = 50
ACTIVE_FUNCTION = frozenset({"ACTIVE", "THROTTLED"})


class Config(HttpAccountConfig):
    base_url: str = "https://api.supabase.com"
    token: SecretStr
    project_refs: list[str] = Field(min_length=1)
    """One organisation's projects; the environment gives them comma-separated."""
    plan: Literal["free", "pro", "team", "enterprise"] | None = None
    """The organisation's plan; without it (or `plan_price`) no plan fee is exported."""
    plan_price: Decimal | None = Field(None, ge=0)
    """Monthly plan fee in USD; defaults to the list price of `plan` (PLAN_PRICES)."""
    compute_credits: Decimal | None = Field(None, ge=0)
    """Monthly compute credits in USD; defaults to 10 on pro and team, else 0."""
    top_tables: int = Field(20, ge=1)
    """Tables with a row-count series of their own; the rest sum into `other`."""
    top_functions: int = Field(20, ge=1)
    """Edge Functions with an invocation series of their own; the rest sum into `other`."""
    api_requests: bool = True
    """Read request counts (usage.api-counts; permission analytics_usage_read)."""
    functions: bool = True
    """Read Edge Function invocations (permissions edge_functions_read, analytics_usage_read)."""
    request_budget: int = Field(DEFAULT_REQUEST_BUDGET, ge=1)
    """Most requests one collection sends; functions past it are skipped."""

    @field_validator("project_refs", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("project_refs")
    @classmethod
    def _valid_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            if not PROJECT_REF.fullmatch(ref):
                raise ValueError(f"{ref!r} is not a project ref (20 lowercase letters)")
        if len(set(refs)) != len(refs):
            raise ValueError("a project is listed twice; it would be counted twice")
        return refs

    @model_validator(mode="after")
    def _enterprise_is_priced(self) -> Config:
        if self.plan == "enterprise" and self.plan_price is None:
            raise ValueError("the enterprise plan has no list price: set plan_price")
        return self

    @property
    def monthly_fee(self) -> Decimal | None:
        if self.plan_price is not None:
            return self.plan_price
        price = PLAN_PRICES.get(self.plan) if self.plan else None
        return price.amount if price else None

    @property
    def monthly_compute_credits(self) -> Decimal:
        if self.compute_credits is not None:
            return self.compute_credits
        credits = COMPUTE_CREDITS.get(self.plan or "")
        return credits.amount if credits else Decimal(0)

    @property
    def requests_per_project(self) -> int:
        """The requests of one project that do not depend on how many functions it has."""
        fixed = 3 + (self.plan != "free")  # two queries, disk/util, billing/addons
        return fixed + self.api_requests + self.functions


def warnings(config: Config) -> list[str]:
    fixed = config.requests_per_project * len(config.project_refs)
    if config.functions and fixed >= config.request_budget:
        return [
            f"{len(config.project_refs)} projects need {fixed} requests before any Edge "
            f"Function statistics, the whole request_budget of {config.request_budget}: "
            "no function invocations will be read (raise the budget within Supabase's 60 "
            "requests a minute, set functions: false, or split the projects over accounts)"
        ]
    return []


# --- spend ------------------------------------------------------------------------


def accrued(price: Mapping[str, Any], days: int, month_days: int) -> Decimal:
    """Dollars a price has cost over `days` completed days of a `month_days` month.

    Completed days, like every provider's data up to yesterday, so the
    forecast's run-rate lands on the full monthly price.
    """
    amount, interval = to_decimal(price["amount"]), price["interval"]
    if interval == "hourly":
        return amount * 24 * days
    if interval == "monthly":
        return amount * days / month_days
    raise BadAmount(f"unknown price interval {interval!r}")


def addon_costs(body: Any, days: int, month_days: int, ctx: Context) -> dict[str, Decimal]:
    """service_name -> accrued dollars of one project's selected add-ons."""
    addons = body.get("selected_addons") if isinstance(body, dict) else None
    if not isinstance(addons, list):
        raise CollectorError("parse", "billing/addons: the answer has no selected_addons list")
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for addon in addons:
        try:
            kind = addon["type"]
            if not isinstance(kind, str) or not kind:
                raise TypeError(f"add-on type {kind!r}")
            cost = accrued(addon["variant"]["price"], days, month_days)
        except (KeyError, TypeError, ValueError) as exc:
            ctx.skip("supabase_addon", repr(exc))
            continue
        costs[ADDON_SERVICES.get(kind, kind)] += cost
    return dict(costs)


def spend(
    config: Config, addons: Mapping[str, Decimal], days: int, month_days: int
) -> list[Sample]:
    samples = []
    fee = config.monthly_fee
    if fee is not None:
        for family in (catalog.MONTH_TO_DATE, catalog.PREVIOUS_MONTH):
            samples.append(
                Sample.of(
                    family,
                    Money(fee, USD),
                    service_name=PLAN_SERVICE,
                    source="manual",
                    charge_frequency=catalog.RECURRING,
                )
            )
    for service, cost in sorted(addons.items()):
        samples.append(
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money(cost, USD),
                service_name=service,
                source="estimated",
                charge_frequency=catalog.USAGE_BASED,
            )
        )
    # Credits pay for compute only, so they never exceed what compute cost. They accrue
    # day by day with the compute they pay for, so they are extrapolated alike: a
    # month-end forecast of compute without its credit would overshoot.
    credit = min(
        addons.get(COMPUTE, Decimal(0)), config.monthly_compute_credits * days / month_days
    )
    if credit > 0:
        samples.append(
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money(-credit, USD),
                service_name=COMPUTE_CREDITS_SERVICE,
                source="estimated",
                charge_frequency=catalog.USAGE_BASED,
            )
        )
    return samples


# --- database and disk --------------------------------------------------------------


def _bytes(raw: Any) -> Decimal | None:
    try:
        value = to_decimal(raw)
    except BadAmount:
        return None
    return value if value >= 0 else None


def _rows(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise CollectorError("parse", f"{what}: the answer is not a list of rows")
    return body


def database_size(body: Any) -> Decimal | None:
    """Bytes from the read-only query's rows; None when the rows hold no size."""
    rows = _rows(body, "database/query/read-only")
    if len(rows) != 1 or not isinstance(rows[0], dict):
        return None
    return _bytes(rows[0].get("bytes"))


def disk_figures(body: Any) -> dict[str, Decimal | None]:
    metrics = body.get("metrics") if isinstance(body, dict) else None
    if not isinstance(metrics, dict):
        raise CollectorError("parse", "config/disk/util: the answer has no metrics object")
    return {
        "disk_used_bytes": _bytes(metrics.get("fs_used_bytes")),
        "disk_size_bytes": _bytes(metrics.get("fs_size_bytes")),
    }


def row_count(live: Any, estimated: Any) -> Decimal:
    """A table's rows: the statistics' live rows, or the planner's estimate where the
    statistics hold nothing (see the module docstring). Raises BadAmount on non-numbers."""
    live_rows = None if live is None else to_decimal(live)
    if live_rows is not None and live_rows < 0:
        raise BadAmount(f"negative live rows {live!r}")
    if live_rows:
        return live_rows
    guess = None if estimated is None else to_decimal(estimated)
    if guess is not None and guess > 0:
        return guess.quantize(Decimal(1), ROUND_HALF_EVEN)
    if live_rows is None:
        raise BadAmount("neither live nor estimated rows")
    return Decimal(0)


def table_rows(body: Any, ctx: Context) -> tuple[dict[str, Decimal], bool]:
    """(`schema.table` -> rows, whether every row could be read) of one project."""
    tables: dict[str, Decimal] = defaultdict(Decimal)
    complete = True
    for row in _rows(body, "database/query/read-only (tables)"):
        try:
            if not isinstance(row, dict):
                raise TypeError("not an object")
            schema, table = row.get("schema_name"), row.get("table_name")
            if not (isinstance(schema, str) and isinstance(table, str) and schema and table):
                raise TypeError(f"table name {schema!r}.{table!r}")
            name = f"{schema}.{table}"
            if len(name) > MAX_TABLE_NAME:
                raise ValueError(f"a name of {len(name)} characters is no Postgres table")
            rows = row_count(row.get("live_rows"), row.get("estimated_rows"))
        except (TypeError, ValueError) as exc:
            ctx.skip("supabase_table", repr(exc))
            complete = False
            continue
        # Two names can only meet when a dot sits inside one (schema "a.b", table "c" and
        # schema "a", table "b.c"): they share one series.
        tables[name] += rows
    return dict(tables), complete


def limited_tables(usage_limits: Iterable[str]) -> set[str]:
    """The tables that have a usage limit of their own (`database_rows:<schema>.<table>`)."""
    return {key.removeprefix(TABLE_LIMIT) for key in usage_limits if key.startswith(TABLE_LIMIT)}


def capped(values: Mapping[str, Decimal], keep: int, always: set[str]) -> dict[str, Decimal]:
    """The `keep` largest entries plus those in `always`, the rest summed as `other`.

    An entry named `other` itself (a function's slug may be) is counted in `other`.
    """
    ranked = sorted(
        ((name, value) for name, value in values.items() if name != OTHER),
        key=lambda item: (-item[1], item[0]),
    )
    kept = dict(ranked[:keep])
    rest = [value for name, value in ranked[keep:] if name not in always]
    kept.update((name, value) for name, value in ranked[keep:] if name in always)
    if OTHER in values:
        rest.append(values[OTHER])
    if rest:
        kept[OTHER] = sum(rest, Decimal(0))
    return kept


def table_samples(
    tables: Mapping[str, Decimal], complete: bool, config: Config, ctx: Context
) -> list[Sample]:
    limited = limited_tables(ctx.usage_limits)
    samples = [
        Sample.of(catalog.TABLE_ROWS, rows, table=name)
        for name, rows in sorted(capped(tables, config.top_tables, limited).items())
    ]
    # Every table is counted, so the total holds even where the breakdown folds.
    if complete:
        total = sum(tables.values(), Decimal(0))
        samples.append(Sample.of(catalog.USAGE, total, metric=DATABASE_ROWS))
    for name in sorted(limited):
        if name in tables:
            samples.append(Sample.of(catalog.USAGE, tables[name], metric=TABLE_LIMIT + name))
        else:
            ctx.log.warning("supabase_limited_table_not_found", table=name)
    return samples


# --- API requests: 7-day windows into a ledger of UTC days ---------------------------


def analytics_rows(body: Any, what: str) -> list[Any]:
    """`result` of an analytics endpoint; an `error` (a string or an object) is a failure."""
    if not isinstance(body, dict):
        raise CollectorError("parse", f"{what}: the answer is not an object")
    if body.get("error"):
        raise CollectorError("parse", f"{what}: the API answered with an error")
    rows = body.get("result")
    if not isinstance(rows, list):
        raise CollectorError("parse", f"{what}: the answer has no result list")
    return rows


def _timestamp(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise TypeError(f"timestamp {raw!r}")
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise ValueError(f"timestamp {raw!r} is out of range") from None


@dataclass
class ApiCounts:
    """One project's `usage.api-counts` answer: the window total and its day buckets."""

    total: Decimal = Decimal(0)
    days: dict[date, Decimal] = field(default_factory=dict)
    complete: bool = True
    """Every row could be read (else the window total is left out)."""
    daily: bool = True
    """Every bucket starts at 00:00 UTC (else no day is recorded from this answer)."""


def api_counts(body: Any, ctx: Context) -> ApiCounts:
    counts = ApiCounts()
    for row in analytics_rows(body, "usage.api-counts"):
        try:
            if not isinstance(row, dict):
                raise TypeError("not an object")
            start = _timestamp(row.get("timestamp"))
            requests = sum((to_decimal(row.get(name)) for name in API_COUNT_FIELDS), Decimal(0))
            if requests < 0:
                raise ValueError(f"negative request count {requests}")
        except (TypeError, ValueError) as exc:
            ctx.skip("supabase_api_counts", repr(exc))
            counts.complete = False
            continue
        counts.total += requests
        if start != start.replace(hour=0, minute=0, second=0, microsecond=0):
            counts.daily = False
        day = start.date()
        counts.days[day] = counts.days.get(day, Decimal(0)) + requests
    return counts


def api_request_samples(
    recorded: Mapping[str, Mapping[str, Decimal]],
    refs: list[str],
    windows: list[ApiCounts],
    now: datetime,
    ctx: Context,
) -> list[Sample]:
    samples = []
    if all(window.complete for window in windows):
        total = sum((window.total for window in windows), Decimal(0))
        samples.append(Sample.of(catalog.SUPABASE_API_REQUESTS_7D, total))
    month = ledger.coverage(recorded, [f"{LEDGER_API}:{ref}" for ref in refs], now)
    if month.covered:
        samples.append(
            Sample.of(catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE, month.total, source="estimated")
        )
    for coverage, days in (("covered", month.covered), ("missing", month.missing)):
        samples.append(
            Sample.of(catalog.SUPABASE_API_REQUESTS_DAY_COVERAGE, len(days), coverage=coverage)
        )
    if month.missing:
        missing = [day.isoformat() for day in month.missing]
        ctx.log.warning("supabase_api_request_days_missing", days=missing)
    return samples


# --- Edge Functions: one call per function, within the request budget -------------------


@dataclass(frozen=True)
class Function:
    ref: str
    id: str
    slug: str


def functions_of(body: Any, ref: str, ctx: Context) -> list[Function]:
    """The project's functions that can still be invoked (not REMOVED)."""
    if not isinstance(body, list):
        raise CollectorError("parse", "functions: the answer is not a list of functions")
    found = []
    for item in body:
        fid = item.get("id") if isinstance(item, dict) else None
        slug = item.get("slug") if isinstance(item, dict) else None
        if not (isinstance(fid, str) and fid and isinstance(slug, str) and slug):
            ctx.skip("supabase_function", f"{ref}: a function without id or slug")
            continue
        if item.get("status", "ACTIVE") in ACTIVE_FUNCTION:
            found.append(Function(ref, fid, slug))
    return sorted(found, key=lambda f: (f.slug, f.id))


def invocations(body: Any) -> Decimal:
    """Requests of one function over the answer's buckets (24 hours with interval=1day)."""
    total = Decimal(0)
    for row in analytics_rows(body, "functions.combined-stats"):
        count = row.get("requests_count") if isinstance(row, dict) else None
        value = to_decimal(count)
        if value < 0:
            raise BadAmount(f"negative requests_count {count!r}")
        total += value
    return total


def function_samples(counts: Mapping[str, Decimal], unread: int, config: Config) -> list[Sample]:
    kept = capped(counts, config.top_functions, set())
    if unread:
        kept.pop(OTHER, None)  # it would miss the functions not read
    return [
        Sample.of(catalog.SUPABASE_FUNCTION_INVOCATIONS_24H, value, function=name)
        for name, value in sorted(kept.items())
    ]


async def read_functions(
    config: Config,
    ctx: Context,
    headers: Mapping[str, str],
    functions: list[Function],
    budget: int,
) -> list[Sample]:
    counts: dict[str, Decimal] = defaultdict(Decimal)
    unread = 0
    for function in functions:
        if budget <= 0:
            unread += 1
            ctx.skip("supabase_function", f"{function.ref}/{function.slug}: over request_budget")
            continue
        budget -= 1
        url = f"{config.base_url}/v1/projects/{function.ref}/analytics/endpoints/"
        body = await ctx.http.get_json(
            url + "functions.combined-stats",
            params={"interval": "1day", "function_id": function.id},
            headers=headers,
        )
        try:
            counts[function.slug] += invocations(body)
        except BadAmount as exc:
            unread += 1
            ctx.skip("supabase_function", f"{function.ref}/{function.slug}: {exc}")
    return function_samples(counts, unread, config)


# --- the collection -------------------------------------------------------------------


@dataclass
class Usage:
    """What the projects of one account reported, before it is summed."""

    figures: list[dict[str, Decimal | None]] = field(default_factory=list)
    tables: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    tables_complete: bool = True
    windows: list[ApiCounts] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)


def summed_usage(projects: list[dict[str, Decimal | None]]) -> dict[str, Decimal]:
    """metric -> total over the projects; a metric missing for any project is left out."""
    totals: dict[str, Decimal] = {}
    for metric in sorted({name for figures in projects for name in figures}):
        found = [figures.get(metric) for figures in projects]
        if all(value is not None for value in found):
            totals[metric] = sum((v for v in found if v is not None), Decimal(0))
    return totals


async def read_project(
    config: Config,
    ctx: Context,
    ref: str,
    headers: Mapping[str, str],
    usage: Usage,
    addons: dict[str, Decimal],
) -> None:
    project = f"{config.base_url}/v1/projects/{ref}"
    if config.plan != "free":
        body = await ctx.http.get_json(f"{project}/billing/addons", headers=headers)
        days, month_days = completed_days(ctx.now), days_in_month(ctx.now)
        for service, cost in addon_costs(body, days, month_days, ctx).items():
            addons[service] += cost
    query = f"{project}/database/query/read-only"
    rows = await ctx.http.post_json(query, {"query": DB_SIZE_QUERY}, headers=headers)
    figures = {"database_size_bytes": database_size(rows)}
    tables, complete = table_rows(
        await ctx.http.post_json(query, {"query": TABLE_ROWS_QUERY}, headers=headers), ctx
    )
    for name, count in tables.items():
        usage.tables[name] += count
    usage.tables_complete &= complete
    figures.update(
        disk_figures(await ctx.http.get_json(f"{project}/config/disk/util", headers=headers))
    )
    for metric, value in figures.items():
        if value is None:
            ctx.skip("supabase_usage", f"{ref}: no usable {metric}")
    usage.figures.append(figures)
    analytics = f"{project}/analytics/endpoints"
    if config.api_requests:
        body = await ctx.http.get_json(
            f"{analytics}/usage.api-counts", params={"interval": "7day"}, headers=headers
        )
        counts = api_counts(body, ctx)
        if not counts.daily:
            ctx.log.warning("supabase_api_counts_not_daily", project=ref)
        else:
            # A day without a row is 0 only if the plan keeps logs for the whole window.
            name = f"{LEDGER_API}:{ref}"
            whole = counts.complete and config.plan in PAID_PLANS
            ended = ledger.complete_days(ctx.now, API_WINDOW)
            ctx.ledger[name] = ledger.record(ctx.ledger.get(name, {}), counts.days, ended, whole)
        usage.windows.append(counts)
    if config.functions:
        body = await ctx.http.get_json(f"{project}/functions", headers=headers)
        usage.functions += functions_of(body, ref, ctx)


async def collect(config: Config, ctx: Context) -> list[Sample]:
    headers = {"Authorization": f"Bearer {config.token.get_secret_value()}"}
    addons: dict[str, Decimal] = defaultdict(Decimal)
    usage = Usage()
    # One project after another: the 60 requests a minute are shared by every token of the user.
    for ref in config.project_refs:
        await read_project(config, ctx, ref, headers, usage, addons)
    days, month_days = completed_days(ctx.now), days_in_month(ctx.now)
    samples = spend(config, addons, days, month_days)
    samples += [
        Sample.of(catalog.USAGE, value, metric=metric)
        for metric, value in summed_usage(usage.figures).items()
    ]
    samples += table_samples(usage.tables, usage.tables_complete, config, ctx)
    names = [f"{LEDGER_API}:{ref}" for ref in config.project_refs if config.api_requests]
    ctx.ledger = ledger.prune(ctx.ledger, names, ctx.now)
    if config.api_requests:
        refs = config.project_refs
        samples += api_request_samples(ctx.ledger, refs, usage.windows, ctx.now, ctx)
    if config.functions:
        budget = config.request_budget - config.requests_per_project * len(config.project_refs)
        samples += await read_functions(config, ctx, headers, usage.functions, budget)
    return samples


PROVIDER = ProviderSpec(
    name="supabase",
    config_model=Config,
    collect=collect,
    summary="Supabase plan fee, estimated add-on prices, database, disk and rows per table, "
    "API requests (month-to-date from daily buckets) and Edge Function invocations.",
    env={
        "token": "SUPABASE_ACCESS_TOKEN",
        "project_refs": "SUPABASE_PROJECT_REF",
        "plan": "SUPABASE_PLAN",
        "base_url": "SUPABASE_BASE_URL",
    },
    warnings=warnings,
)
