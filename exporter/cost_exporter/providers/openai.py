"""OpenAI: organisation spend from the Costs API, tokens from the Usage API.

Endpoints (Admin API, 1-day buckets, every page followed):
`GET /organization/costs` for the current month grouped by line item, project
and API key together (one walk yields all three breakdowns, so they sum to the
same total), and for the previous month by line item; `GET
/organization/usage/completions` grouped by model for tokens and requests.

Credential: an admin key (`sk-admin-...`). OpenAI admin keys have no scopes,
so no read-only key exists: create one only for the exporter and store it as
a Docker secret (`OPENAI_ADMIN_KEY_FILE`).

    cost_month_to_date{provider="openai",account="default",service_name="gpt-4o-2024-08-06, input",currency="USD",source="api",charge_frequency="usage_based"} 2.29
    cost_ai_spend_by_project{provider="openai",account="default",project="proj_abc123",currency="USD"} 3.50
    cost_ai_tokens{provider="openai",account="default",model="gpt-4o-mini-2024-07-18",token_type="cached_input"} 1200000

Each cost keeps its bucket's UTC day: daily spend per line item feeds
`cost_last_day` and the backfill's history (one walk of 180-bucket pages).
The Costs API has no model grouping, so `cost_ai_spend_by_model` is an
estimate (tokens x the shipped price table, `source="estimated"`) that ignores
batch discounts and prices audio/image tokens as text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import Field, SecretStr

from cost_exporter import breakdowns, catalog, pricing
from cost_exporter.daily import DailySpend, utc_day
from cost_exporter.errors import CollectorError
from cost_exporter.http_client import has_more_cursor
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

COSTS = "/organization/costs"
COMPLETIONS = "/organization/usage/completions"
COSTS_LIMIT = 180  # the documented maximum of buckets per page for /organization/costs
USAGE_LIMIT = 31  # the documented maximum of 1d buckets per page for /organization/usage/*
UNKNOWN = "unknown"
T = TypeVar("T")
ZERO = Decimal(0)


class Config(HttpAccountConfig):
    base_url: str = "https://api.openai.com/v1"
    admin_key: SecretStr
    top_n: int = Field(20, ge=1)
    ai_prices: dict[str, pricing.PriceOverride] = Field(default_factory=dict)
    project_names: dict[str, str] = Field(default_factory=dict)
    api_key_names: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Cost:
    line_item: str
    project: str
    api_key: str
    amount: Money
    day: date | None = None
    """The UTC day of the cost's 1d bucket (None if the bucket gave no readable start)."""


@dataclass
class Tokens:
    """One model's usage; `input` is uncached, so the token types never overlap."""

    input: Decimal = ZERO
    cached_input: Decimal = ZERO
    cache_write: Decimal | None = None  # None: the API never reported it for this model
    output: Decimal = ZERO
    requests: Decimal = ZERO

    def add(self, other: Tokens) -> None:
        self.input += other.input
        self.cached_input += other.cached_input
        self.output += other.output
        self.requests += other.requests
        if other.cache_write is not None:
            self.cache_write = (self.cache_write or ZERO) + other.cache_write

    @property
    def total(self) -> Decimal:
        return self.input + self.cached_input + (self.cache_write or ZERO) + self.output


def _label(value: Any) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def _count(result: Mapping[str, Any], key: str, default: Decimal | None = None) -> Decimal:
    raw = result.get(key)
    if raw is None and default is not None:
        return default
    value = to_decimal(raw)
    if value < 0 or value != value.to_integral_value():
        raise BadAmount(f"{key}: not a token count: {raw!r}")
    return value


def parse_cost(result: Mapping[str, Any], day: date | None = None) -> Cost:
    amount = result["amount"]
    return Cost(
        line_item=_label(result.get("line_item")),
        project=_label(result.get("project_id")),
        api_key=_label(result.get("api_key_id")),
        amount=Money.of(amount["value"], amount.get("currency") or "usd"),
        day=day,
    )


def parse_tokens(result: Mapping[str, Any]) -> tuple[str, Tokens]:
    """`input_tokens` includes cached and cache-write tokens: take them out."""
    input_tokens = _count(result, "input_tokens")
    cached = _count(result, "input_cached_tokens", ZERO)
    write = (
        _count(result, "input_cache_write_tokens") if "input_cache_write_tokens" in result else None
    )
    uncached = input_tokens - cached - (write or ZERO)
    if uncached < 0:
        raise BadAmount("cached tokens exceed input_tokens")
    tokens = Tokens(
        input=uncached,
        cached_input=cached,
        cache_write=write,
        output=_count(result, "output_tokens"),
        requests=_count(result, "num_model_requests"),
    )
    return _label(result.get("model")), tokens


def results(page: Any, ctx: Context) -> Iterator[tuple[date | None, Any]]:
    """(bucket day, result row) of one page; a bucket without a result list is skipped."""
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise CollectorError("parse", "OpenAI answered without a `data` list of buckets")
    for bucket in page["data"]:
        rows = bucket.get("results") if isinstance(bucket, dict) else None
        if isinstance(rows, list):
            day = _bucket_day(bucket.get("start_time"))
            for row in rows:
                yield day, row
        else:
            ctx.skip("openai_bucket", f"not a bucket with results: {bucket!r}")


def _bucket_day(start_time: Any) -> date | None:
    if isinstance(start_time, bool) or not isinstance(start_time, int | float):
        return None
    try:
        return datetime.fromtimestamp(start_time, UTC).date()
    except (OverflowError, OSError, ValueError):  # a start_time past year 9999
        return None


async def fetch(
    config: Config,
    ctx: Context,
    path: str,
    parse: Callable[[Mapping[str, Any], date | None], T],
    params: Mapping[str, Any],
) -> list[T]:
    """Every row of every page, parsed with its bucket's day; a malformed row is counted
    and left out."""
    headers = {"Authorization": f"Bearer {config.admin_key.get_secret_value()}"}
    url, parsed = f"{config.base_url}{path}", []
    async for page in ctx.http.paginate(
        url, params=params, headers=headers, next_cursor=has_more_cursor
    ):
        for day, row in results(page, ctx):
            try:
                parsed.append(parse(row, day))
            except (KeyError, TypeError, AttributeError, BadAmount) as exc:
                ctx.skip(f"openai {path}", f"{type(exc).__name__}: {exc}")
    return parsed


def _sum_by(
    costs: Iterable[Cost], label: str, names: Mapping[str, str]
) -> dict[str, dict[str, Decimal]]:
    """currency -> label value -> amount; ids are renamed first, so two ids may merge."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for cost in costs:
        value = getattr(cost, label)
        totals[cost.amount.currency][names.get(value, value)] += cost.amount.amount
    return totals


def spend_samples(current: list[Cost], previous: list[Cost], config: Config) -> list[Sample]:
    samples = []
    for family, costs in ((catalog.MONTH_TO_DATE, current), (catalog.PREVIOUS_MONTH, previous)):
        for currency, by_item in _sum_by(costs, "line_item", {}).items():
            for item, amount in by_item.items():
                money = Money(amount, currency)
                samples.append(
                    Sample.of(
                        family,
                        money,
                        service_name=item,
                        source="api",
                        charge_frequency=catalog.USAGE_BASED,
                    )
                )
    capped: tuple[tuple[catalog.Family, str, Mapping[str, str], dict[str, str]], ...] = (
        (catalog.AI_SPEND_BY_PROJECT, "project", config.project_names, {}),
        (catalog.AI_SPEND_BY_API_KEY, "api_key", config.api_key_names, {"source": "api"}),
    )
    for family, label, names, extra in capped:
        for currency, totals in _sum_by(current, label, names).items():
            for value, amount in breakdowns.top_n(totals, config.top_n).items():
                labels = {label: value, **extra}
                samples.append(Sample.of(family, Money(amount, currency), **labels))
    return samples


def daily_spend(costs: Iterable[Cost]) -> DailySpend:
    days = DailySpend()
    for cost in costs:
        if cost.day is not None:
            days.add(cost.day, cost.line_item, cost.amount)
    return days


def estimated_spend(tokens: Tokens, price: pricing.ModelPrice) -> Decimal:
    """Tokens x list price; cached and cache-write tokens fall back to the input price."""
    cache_read = price.input if price.cache_read is None else price.cache_read
    cache_write = price.input if price.cache_write is None else price.cache_write
    cost = (
        tokens.input * price.input
        + tokens.cached_input * cache_read
        + (tokens.cache_write or ZERO) * cache_write
        + tokens.output * price.output
    )
    return cost / pricing.PER_MILLION


def usage_samples(
    by_model: Mapping[str, Tokens], prices: Mapping[str, pricing.ModelPrice]
) -> list[Sample]:
    samples = []
    for model, tokens in by_model.items():
        types = {
            "input": tokens.input,
            "cached_input": tokens.cached_input,
            "output": tokens.output,
        }
        if tokens.cache_write is not None:
            types["cache_write"] = tokens.cache_write
        for token_type, count in types.items():
            samples.append(Sample.of(catalog.AI_TOKENS, count, model=model, token_type=token_type))
        samples.append(Sample.of(catalog.AI_REQUESTS, tokens.requests, model=model))
        price = pricing.lookup(prices, model)
        if price is None:
            samples.append(Sample.of(catalog.AI_UNPRICED_TOKENS, tokens.total, model=model))
            continue
        spend = Money(estimated_spend(tokens, price), "USD")
        samples.append(Sample.of(catalog.AI_SPEND_BY_MODEL, spend, model=model, source="estimated"))
        if price.cache_read is not None:  # without a cache price the saving is unknown, not 0
            saving = Money(price.cache_savings(tokens.cached_input), "USD")
            samples.append(Sample.of(catalog.AI_CACHE_SAVINGS, saving, model=model))
    return samples


def query(start: datetime, end: datetime | None, group_by: list[str], limit: int) -> dict[str, Any]:
    window = {"start_time": int(start.timestamp())}
    if end is not None:
        window["end_time"] = int(end.timestamp())
    return {"bucket_width": "1d", **window, "group_by": group_by, "limit": limit}


async def collect(config: Config, ctx: Context) -> list[Sample]:
    month, previous_month = ctx.month_start, ctx.previous_month_start
    # One walk grouped by all three dimensions, so each breakdown sums to the same total.
    every = ["line_item", "project_id", "api_key_id"]
    current = await fetch(config, ctx, COSTS, parse_cost, query(month, None, every, COSTS_LIMIT))
    last_month = query(previous_month, month, ["line_item"], COSTS_LIMIT)
    previous = await fetch(config, ctx, COSTS, parse_cost, last_month)
    usage = query(month, None, ["model"], USAGE_LIMIT)
    tokens: dict[str, Tokens] = defaultdict(Tokens)
    for model, row in await fetch(config, ctx, COMPLETIONS, _tokens, usage):
        tokens[model].add(row)
    prices = pricing.prices_for("openai", config.ai_prices)
    days = daily_spend(previous + current).completed(utc_day(ctx.now))
    return [
        *spend_samples(current, previous, config),
        *usage_samples(tokens, prices),
        *days,
        pricing.as_of_sample("openai"),
    ]


def _tokens(result: Mapping[str, Any], _day: date | None) -> tuple[str, Tokens]:
    return parse_tokens(result)  # tokens are summed over the month; the day is not needed


async def history(config: Config, ctx: Context, start: datetime, end: datetime) -> list[Sample]:
    """Daily spend per line item over [start, end): one walk of 180-bucket pages."""
    window = query(start, end, ["line_item"], COSTS_LIMIT)
    costs = await fetch(config, ctx, COSTS, parse_cost, window)
    return daily_spend(costs).history(utc_day(start), utc_day(end))


PROVIDER = ProviderSpec(
    name="openai",
    config_model=Config,
    collect=collect,
    history=history,
    summary="OpenAI organisation costs (by line item, project, API key) and completion tokens.",
    env={"admin_key": "OPENAI_ADMIN_KEY", "base_url": "OPENAI_BASE_URL"},
)
