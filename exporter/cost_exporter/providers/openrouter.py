"""OpenRouter: credit balance, spend per model and per key, tokens and requests.

Endpoints (all `GET`, `Authorization: Bearer <management key>`):

* `/credits`    -> remaining prepaid balance (`total_credits - total_usage`);
* `/activity`   -> spend, requests and tokens per UTC day x model x provider
  endpoint for the last 30 *completed* days (today is not included), summed
  over every workspace;
* `/workspaces` -> every workspace's `id`, paged by `offset`/`limit` with a
  `total_count` (https://openrouter.ai/docs/api/api-reference/workspaces/list-workspaces);
* `/keys`       -> each key's `usage_monthly` (current UTC month, today included),
  paged by `offset`. Without `workspace_id` it lists the keys of the default
  workspace only, so it is read once without, then once per other workspace.

All four need a **management key** (formerly "provisioning key"). It cannot
run inference itself, but it is not read-only either: it can create, change
and delete keys, including keys that spend credits, so store it as a secret
file. OpenRouter has no read-only key. An inference key gets 401/403 here.

Month to date comes from `/activity`, not from the keys: it is account-wide,
keeps the spend of deleted keys, and counts whole UTC days, like the run-rate
forecast. It therefore lags by today's spend, and on the 1st of a month no day
has completed, so the month is left out rather than shown as 0. The previous
month is only reported when the 30-day window holds all of it and its last day
is already in the report (so in practice on the 1st after a month of 30 days
or fewer). Daily spend (`cost_last_day`, the backfill) is `/activity` per day, so
the backfill reaches 30 days back only. Only OpenRouter credits count: BYOK inference is billed by the
upstream provider, whose own collector reports it.

    cost_credit_balance{provider="openrouter",account="default",currency="USD"} 74.75
    cost_month_to_date{provider="openrouter",account="default",service_name="Inference",currency="USD",source="api",charge_frequency="usage_based"} 7.645
    cost_ai_spend_by_model{provider="openrouter",account="default",model="openai/gpt-4.1",currency="USD",source="api"} 3.6327
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr

from cost_exporter import catalog
from cost_exporter.breakdowns import top_n
from cost_exporter.daily import DailySpend, utc_day
from cost_exporter.errors import CollectorError
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

SERVICE = "Inference"
ACTIVITY_DAYS = 30
UNKNOWN_MODEL = "unknown"
UNNAMED_KEY = "unnamed"
MAX_KEY_PAGES = 1000
WORKSPACES_LIMIT = 100  # the documented maximum `limit` of GET /workspaces
MAX_WORKSPACE_PAGES = 100
# /activity field -> token_type. The activity report has no cache split, so
# `input` holds every prompt token; reasoning tokens are part of completion.
TOKEN_FIELDS = {"prompt_tokens": "input", "completion_tokens": "output"}


class Config(HttpAccountConfig):
    base_url: str = "https://openrouter.ai/api/v1"
    api_key: SecretStr
    top_n: int = Field(20, ge=1)


@dataclass
class Month:
    """What /activity says about one calendar month."""

    spend: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    tokens: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    requests: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    days: set[date] = field(default_factory=set)
    daily: DailySpend = field(default_factory=DailySpend)

    @property
    def total(self) -> Decimal:
        return sum(self.spend.values(), Decimal(0))


def _data(body: Any, path: str) -> Any:
    if not isinstance(body, dict) or "data" not in body:
        raise CollectorError("parse", f"GET {path}: no 'data' in the response")
    return body["data"]


def credit_balance(data: Any) -> Money:
    try:
        return Money.of(to_decimal(data["total_credits"]) - to_decimal(data["total_usage"]), "USD")
    except (BadAmount, KeyError, TypeError):
        raise CollectorError(
            "parse", "GET /credits: total_credits/total_usage unreadable"
        ) from None


def activity_by_month(rows: Any, ctx: Context) -> dict[tuple[int, int], Month]:
    """Sum /activity rows per (year, month) and model; unreadable rows are skipped."""
    if not isinstance(rows, list):
        raise CollectorError("parse", "GET /activity: 'data' is not a list")
    months: dict[tuple[int, int], Month] = defaultdict(Month)
    for row in rows:
        try:
            day = date.fromisoformat(str(row["date"])[:10])
            usage = to_decimal(row["usage"])
        except (BadAmount, KeyError, TypeError, ValueError) as exc:
            ctx.skip("activity_row", f"{type(exc).__name__}: {exc}")
            continue
        month = months[(day.year, day.month)]
        month.days.add(day)
        model = str(row.get("model") or UNKNOWN_MODEL)
        month.spend[model] += usage
        month.daily.add(day, SERVICE, Money(usage, "USD"))
        # A missing count is left out rather than read as 0: no series at all
        # beats a series that says nothing happened.
        for name, token_type in TOKEN_FIELDS.items():
            if (count := _count(row, name)) is not None:
                month.tokens[(model, token_type)] += count
        if (requests := _count(row, "requests")) is not None:
            month.requests[model] += requests
    return months


def _count(row: Mapping[str, Any], name: str) -> Decimal | None:
    try:
        return to_decimal(row.get(name))
    except BadAmount:
        return None


def key_spend(keys: list[Any], ctx: Context) -> dict[str, Decimal]:
    """usage_monthly per key name; the name is user-chosen, never the key, label or hash."""
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for key in keys:
        try:
            usage = to_decimal(key["usage_monthly"])
        except (BadAmount, KeyError, TypeError) as exc:
            ctx.skip("key", f"{type(exc).__name__}: {exc}")
            continue
        spend[str(key.get("name") or UNNAMED_KEY)] += usage
    return dict(spend)


def covers(first_day: date, today: date) -> bool:
    """Whether /activity's window (the 30 days before today) reaches back to `first_day`."""
    return today - timedelta(days=ACTIVITY_DAYS) <= first_day


def complete(month: Month, first_day: date, last_day: date, today: date) -> bool:
    """A whole past month: inside the window, and its last day already processed.

    A day without rows may be idle or not yet processed; for the last day we
    cannot tell, so the month is left out rather than reported short.
    """
    return covers(first_day, today) and last_day in month.days


async def _get_body(
    config: Config, ctx: Context, path: str, params: Mapping[str, Any] | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"}
    try:
        body = await ctx.http.get_json(f"{config.base_url}{path}", params=params, headers=headers)
    except CollectorError as exc:
        if exc.reason == "auth":
            raise CollectorError("auth", f"{exc} (needs an OpenRouter management key)") from None
        raise
    _data(body, path)  # an answer without `data` is refused here for every path
    return body


async def _get(
    config: Config, ctx: Context, path: str, params: Mapping[str, Any] | None = None
) -> Any:
    return _data(await _get_body(config, ctx, path, params), path)


async def fetch_workspaces(config: Config, ctx: Context) -> list[str]:
    """Every workspace id. Pages end at `total_count`, or at an empty page when the answer
    states none; a `total_count` that is not a count is a parse error, never a guess."""
    ids: dict[str, None] = {}
    offset = 0
    for _ in range(MAX_WORKSPACE_PAGES):
        params = {"offset": offset, "limit": WORKSPACES_LIMIT}
        body = await _get_body(config, ctx, "/workspaces", params)
        page, total = body["data"], body.get("total_count")
        if not isinstance(page, list):
            raise CollectorError("parse", "GET /workspaces: 'data' is not a list")
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 0
        ):
            raise CollectorError("parse", f"GET /workspaces: unreadable paging ({total!r:.40})")
        fresh: dict[str, None] = {}
        for workspace in page:
            ident = workspace.get("id") if isinstance(workspace, dict) else None
            if isinstance(ident, str) and ident:
                fresh[ident] = None
            else:
                ctx.skip("workspace", f"no id: {str(workspace)[:80]}")
        offset += len(page)
        # A page of workspaces already seen ends the list too, in case the server
        # ever ignores `offset`.
        repeated = bool(fresh) and fresh.keys() <= ids.keys()
        done = not page or repeated or (total is not None and offset >= total)
        ids.update(fresh)
        if done:
            return list(ids)
    message = f"GET /workspaces: more than {MAX_WORKSPACE_PAGES} pages, giving up"
    raise CollectorError("parse", message)


async def fetch_keys(config: Config, ctx: Context, workspace: str | None = None) -> dict[str, Any]:
    """Every key of one workspace (None: the default one) by hash, disabled ones included
    (a key disabled after a leak still spent)."""
    keys: dict[str, Any] = {}
    offset = 0
    params: dict[str, Any] = {"include_disabled": "true"}
    if workspace is not None:
        params["workspace_id"] = workspace
    for _ in range(MAX_KEY_PAGES):
        page = await _get(config, ctx, "/keys", {**params, "offset": offset})
        if not isinstance(page, list):
            raise CollectorError("parse", "GET /keys: 'data' is not a list")
        where = workspace or "default"
        fresh = {_key_id(key, f"{where}#{offset + i}"): key for i, key in enumerate(page)}
        # An empty page ends the list; so does a page of keys already seen,
        # in case the server ever ignores `offset` (no double counting).
        if not fresh.keys() - keys.keys():
            return keys
        keys.update(fresh)
        offset += len(page)
    raise CollectorError("parse", f"GET /keys: more than {MAX_KEY_PAGES} pages, giving up")


async def fetch_all_keys(config: Config, ctx: Context) -> list[Any]:
    """The keys of every workspace: `/keys` alone lists the default workspace's only.

    A workspace whose keys that listing already showed (every page of it was read) is
    not listed again; any other is, and a key seen twice counts once, by hash.
    """
    workspaces = await fetch_workspaces(config, ctx)
    keys = await fetch_keys(config, ctx)
    listed = {key.get("workspace_id") for key in keys.values() if isinstance(key, dict)}
    for workspace in workspaces:
        if workspace not in listed:
            keys.update(await fetch_keys(config, ctx, workspace))
    return list(keys.values())


def _key_id(key: Any, position: str) -> str:
    if isinstance(key, dict) and key.get("hash"):
        return str(key["hash"])
    return position


def daily_spend(months: Mapping[tuple[int, int], Month]) -> DailySpend:
    days = DailySpend()
    for month in months.values():
        days.update(month.daily)
    return days


def month_samples(family: catalog.Family, month: Month) -> list[Sample]:
    return [
        Sample.of(
            family,
            Money(month.total, "USD"),
            service_name=SERVICE,
            source="api",
            charge_frequency=catalog.USAGE_BASED,
        )
    ]


def breakdown_samples(month: Month) -> list[Sample]:
    samples = [
        Sample.of(catalog.AI_SPEND_BY_MODEL, Money(amount, "USD"), model=model, source="api")
        for model, amount in sorted(month.spend.items())
    ]
    samples += [
        Sample.of(catalog.AI_TOKENS, count, model=model, token_type=token_type)
        for (model, token_type), count in sorted(month.tokens.items())
    ]
    samples += [
        Sample.of(catalog.AI_REQUESTS, count, model=model)
        for model, count in sorted(month.requests.items())
    ]
    return samples


async def collect(config: Config, ctx: Context) -> list[Sample]:
    balance = credit_balance(await _get(config, ctx, "/credits"))
    months = activity_by_month(await _get(config, ctx, "/activity"), ctx)
    keys = key_spend(await fetch_all_keys(config, ctx), ctx)

    samples = [Sample.of(catalog.CREDIT_BALANCE, balance)]
    today = ctx.now.astimezone(UTC).date()
    this_month = ctx.month_start.date()
    if today > this_month:  # at least one completed day this month
        current = months.get((this_month.year, this_month.month), Month())
        samples += month_samples(catalog.MONTH_TO_DATE, current)
        samples += breakdown_samples(current)
    previous = ctx.previous_month_start.date()
    past = months.get((previous.year, previous.month))
    if past is not None and complete(past, previous, this_month - timedelta(days=1), today):
        samples += month_samples(catalog.PREVIOUS_MONTH, past)
    samples += [
        Sample.of(catalog.AI_SPEND_BY_API_KEY, Money(amount, "USD"), api_key=name, source="api")
        for name, amount in top_n(keys, config.top_n).items()
    ]
    return samples + daily_spend(months).completed(today)


async def history(config: Config, ctx: Context, start: datetime, end: datetime) -> list[Sample]:
    """Daily spend over [start, end) from /activity: the 30 completed days before today."""
    months = activity_by_month(await _get(config, ctx, "/activity"), ctx)
    return daily_spend(months).history(utc_day(start), utc_day(end))


PROVIDER = ProviderSpec(
    name="openrouter",
    config_model=Config,
    collect=collect,
    history=history,
    history_days=ACTIVITY_DAYS,
    summary=(
        "OpenRouter credit balance, spend per model and per key (every workspace), tokens "
        "and requests."
    ),
    env={"api_key": "OPENROUTER_API_KEY", "base_url": "OPENROUTER_BASE_URL"},
)
