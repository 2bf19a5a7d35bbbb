"""Anthropic: spend from the Admin API cost report, tokens from the usage report.

Endpoints: `GET /v1/organizations/cost_report` (daily buckets, grouped by
description and workspace, previous month to now) and
`GET /v1/organizations/usage_report/messages` (daily buckets, grouped by model
and API key, this month). Credential: a Console Admin API key
(`sk-ant-admin01-...`); Anthropic offers no read-only scope for it, so use a
dedicated key stored as a Docker secret.

    cost_month_to_date{provider="anthropic",account="default",service_name="Claude Sonnet 4 usage",currency="USD",source="api",charge_frequency="usage_based"} 26.37
    cost_ai_tokens{provider="anthropic",account="default",model="claude-sonnet-4-20250514",token_type="cached_input"} 3000000
    cost_ai_spend_by_api_key{provider="anthropic",account="default",api_key="apikey_01Rj2N8S",currency="USD",source="estimated"} 12.15

Daily spend (`cost_last_day`, the backfill's history) sums the cost report's
day buckets per service.
The cost report has no per-key grouping, so per-key spend is estimated from
tokens x the shipped price table at standard list prices (no batch discount,
no server tools) and labelled `source="estimated"`; tokens of models missing
from the table are counted in `cost_ai_unpriced_tokens` and left out of every
estimate. The usage report has no request counts, so `cost_ai_requests` is
not exported. The Claude Code report is not read (see the README).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import Field, SecretStr

from cost_exporter import catalog, periods, pricing
from cost_exporter.breakdowns import top_n
from cost_exporter.daily import DailySpend, utc_day
from cost_exporter.errors import CollectorError
from cost_exporter.http_client import has_more_cursor
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

API_VERSION = "2023-06-01"
COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
MAX_DAY_BUCKETS = 31  # the documented maximum `limit` for 1d buckets on both reports
DEFAULT_WORKSPACE = "default"  # workspace_id is null for the default workspace
CONSOLE_KEY = "console"  # api_key_id is null for Console / Workbench usage
NO_MODEL = "none"  # code execution and similar costs belong to no model
FIXED_SERVICES = {
    "web_search": "Web search",
    "code_execution": "Code execution",
    "session_usage": "Session usage",
}
Row = TypeVar("Row")
TOKEN_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cached_input", "output")


class Config(HttpAccountConfig):
    base_url: str = "https://api.anthropic.com"
    admin_key: SecretStr
    top_n: int = Field(20, ge=1)
    ai_prices: dict[str, pricing.PriceOverride] = Field(default_factory=dict)


@dataclass(frozen=True)
class CostRow:
    day: datetime
    service_name: str
    project: str
    model: str
    usd: Decimal


@dataclass(frozen=True)
class UsageRow:
    model: str
    api_key: str
    tokens: Mapping[str, Decimal]


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def service_name(row: Mapping[str, Any]) -> str:
    """A low-cardinality service: one per model line ("Claude Sonnet 4 usage") or tool."""
    cost_type = row.get("cost_type")
    if cost_type in FIXED_SERVICES:
        return FIXED_SERVICES[cost_type]
    description, model = row.get("description"), row.get("model")
    if isinstance(description, str) and description.strip():
        # "Claude Sonnet 4 Usage - Input Tokens": the token type after the dash
        # would multiply series without telling anyone where money went.
        head = description.split(" - ", 1)[0].strip()
        if head.lower().endswith(" usage"):
            head = head[: -len(" usage")]
        return f"{head} usage"
    if isinstance(model, str) and model:
        return f"{model} usage"
    return "Claude API usage"


def _buckets(page: Any, ctx: Context) -> list[tuple[datetime, list[Any]]]:
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise CollectorError("parse", "Anthropic report: no `data` list in the response")
    buckets = []
    for bucket in page["data"]:
        try:
            start = datetime.fromisoformat(bucket["starting_at"])
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
            results = bucket["results"]
            if not isinstance(results, list):
                raise TypeError("results is not a list")
        except (KeyError, TypeError, ValueError) as exc:
            ctx.skip("bucket", str(exc))
            continue
        buckets.append((start, results))
    return buckets


def parse_cost_page(page: Any, ctx: Context) -> list[CostRow]:
    rows = []
    for day, results in _buckets(page, ctx):
        for row in results:
            try:
                currency = row.get("currency") or "USD"
                amount = Money.from_cents(row["amount"], currency)
            except (AttributeError, KeyError, TypeError, BadAmount) as exc:
                ctx.skip("cost_row", str(exc))
                continue
            if amount.currency != "USD":
                # Documented as always USD; mixing currencies silently would be worse.
                raise CollectorError("parse", f"Anthropic cost report in {amount.currency}")
            rows.append(
                CostRow(
                    day=day,
                    service_name=service_name(row),
                    project=str(row.get("workspace_id") or DEFAULT_WORKSPACE),
                    model=str(row.get("model") or NO_MODEL),
                    usd=amount.amount,
                )
            )
    return rows


def parse_usage_page(page: Any, ctx: Context) -> list[UsageRow]:
    rows = []
    for _day, results in _buckets(page, ctx):
        for row in results:
            try:
                creation = row.get("cache_creation") or {}
                tokens = {
                    "input": to_decimal(row["uncached_input_tokens"]),
                    "cache_write_5m": to_decimal(creation.get("ephemeral_5m_input_tokens", 0)),
                    "cache_write_1h": to_decimal(creation.get("ephemeral_1h_input_tokens", 0)),
                    "cached_input": to_decimal(row["cache_read_input_tokens"]),
                    "output": to_decimal(row["output_tokens"]),
                }
            except (AttributeError, KeyError, TypeError, BadAmount) as exc:
                ctx.skip("usage_row", str(exc))
                continue
            model, key = row.get("model") or "unknown", row.get("api_key_id") or CONSOLE_KEY
            rows.append(UsageRow(str(model), str(key), tokens))
    return rows


def with_cache_defaults(price: pricing.ModelPrice) -> pricing.ModelPrice:
    """Fill cache prices a user override left out with Anthropic's multipliers."""
    return replace(
        price,
        cache_read=price.input * Decimal("0.1") if price.cache_read is None else price.cache_read,
        cache_write=price.input * Decimal("1.25")
        if price.cache_write is None
        else price.cache_write,
    )


def estimate_usd(tokens: Mapping[str, Decimal], price: pricing.ModelPrice) -> Decimal:
    """List-price cost of one usage row (1-hour cache writes cost 2x input)."""
    price = with_cache_defaults(price)
    assert price.cache_read is not None and price.cache_write is not None
    per_million = (
        tokens["input"] * price.input
        + tokens["cache_write_5m"] * price.cache_write
        + tokens["cache_write_1h"] * price.input * 2
        + tokens["cached_input"] * price.cache_read
        + tokens["output"] * price.output
    )
    return per_million / pricing.PER_MILLION


def cost_samples(
    rows: list[CostRow], month_start: datetime, previous_month_start: datetime, keep: int
) -> list[Sample]:
    spend: dict[tuple[catalog.Family, str], Decimal] = defaultdict(Decimal)
    by_project: dict[str, Decimal] = defaultdict(Decimal)
    by_model: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.day >= month_start:
            spend[(catalog.MONTH_TO_DATE, row.service_name)] += row.usd
            by_project[row.project] += row.usd
            by_model[row.model] += row.usd
        elif row.day >= previous_month_start:
            spend[(catalog.PREVIOUS_MONTH, row.service_name)] += row.usd
    samples = [
        Sample.of(
            family,
            Money(usd, "USD"),
            service_name=name,
            source="api",
            charge_frequency=catalog.USAGE_BASED,
        )
        for (family, name), usd in sorted(spend.items(), key=lambda item: item[0][1])
    ]
    samples += [
        Sample.of(catalog.AI_SPEND_BY_PROJECT, Money(usd, "USD"), project=project)
        for project, usd in top_n(by_project, keep).items()
    ]
    samples += [
        Sample.of(catalog.AI_SPEND_BY_MODEL, Money(usd, "USD"), model=model, source="api")
        for model, usd in sorted(by_model.items())
    ]
    return samples


def daily_spend(rows: Iterable[CostRow]) -> DailySpend:
    days = DailySpend()
    for row in rows:
        days.add(utc_day(row.day), row.service_name, Money(row.usd, "USD"))
    return days


def usage_samples(
    rows: list[UsageRow], prices: Mapping[str, pricing.ModelPrice], keep: int
) -> list[Sample]:
    tokens: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(TOKEN_FIELDS, Decimal(0))
    )
    by_key: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        for field, count in row.tokens.items():
            tokens[row.model][field] += count
        price = pricing.lookup(prices, row.model)
        if price is not None:
            by_key[row.api_key] += estimate_usd(row.tokens, price)
    samples = []
    for model, counts in sorted(tokens.items()):
        by_type = {
            "input": counts["input"],
            "cached_input": counts["cached_input"],
            "cache_write": counts["cache_write_5m"] + counts["cache_write_1h"],
            "output": counts["output"],
        }
        samples += [
            Sample.of(catalog.AI_TOKENS, count, model=model, token_type=token_type)
            for token_type, count in by_type.items()
        ]
        price = pricing.lookup(prices, model)
        if price is None:
            unpriced = sum(by_type.values(), Decimal(0))
            samples.append(Sample.of(catalog.AI_UNPRICED_TOKENS, unpriced, model=model))
            continue
        saved = with_cache_defaults(price).cache_savings(counts["cached_input"])
        samples.append(Sample.of(catalog.AI_CACHE_SAVINGS, Money(saved, "USD"), model=model))
    samples += [
        Sample.of(catalog.AI_SPEND_BY_API_KEY, Money(usd, "USD"), api_key=key, source="estimated")
        for key, usd in top_n(by_key, keep).items()
    ]
    return samples


async def _rows(
    config: Config,
    ctx: Context,
    path: str,
    params: dict[str, Any],
    parse: Callable[[Any, Context], list[Row]],
) -> list[Row]:
    """Every page of one report, parsed as it arrives (a bad page stops the paging)."""
    headers = {
        "x-api-key": config.admin_key.get_secret_value(),
        "anthropic-version": API_VERSION,
    }
    rows: list[Row] = []
    async for page in ctx.http.paginate(
        config.base_url + path,
        params={**params, "bucket_width": "1d", "limit": MAX_DAY_BUCKETS},
        headers=headers,
        next_cursor=has_more_cursor,
    ):
        rows += parse(page, ctx)
    return rows


async def collect(config: Config, ctx: Context) -> list[Sample]:
    until = rfc3339(ctx.now)
    cost_params = {
        "starting_at": rfc3339(ctx.previous_month_start),
        "ending_at": until,
        "group_by[]": ["description", "workspace_id"],
    }
    # Workspaces come from the cost report (real money); grouping tokens by
    # them too would only multiply rows.
    usage_params = {
        "starting_at": rfc3339(ctx.month_start),
        "ending_at": until,
        "group_by[]": ["model", "api_key_id"],
    }
    cost_rows = await _rows(config, ctx, COST_PATH, cost_params, parse_cost_page)
    usage_rows: list[UsageRow] = []
    if periods.completed_days(ctx.now):  # on the 1st no day of the month has ended yet
        usage_rows = await _rows(config, ctx, USAGE_PATH, usage_params, parse_usage_page)
    prices = pricing.prices_for("anthropic", config.ai_prices)
    return (
        cost_samples(cost_rows, ctx.month_start, ctx.previous_month_start, config.top_n)
        + usage_samples(usage_rows, prices, config.top_n)
        + daily_spend(cost_rows).completed(utc_day(ctx.now))
        + [pricing.as_of_sample("anthropic")]
    )


async def history(config: Config, ctx: Context, start: datetime, end: datetime) -> list[Sample]:
    """Daily spend per service over [start, end), in pages of 31 day buckets."""
    params = {
        "starting_at": rfc3339(start),
        "ending_at": rfc3339(end),
        "group_by[]": ["description"],
    }
    rows = await _rows(config, ctx, COST_PATH, params, parse_cost_page)
    return daily_spend(rows).history(utc_day(start), utc_day(end))


PROVIDER = ProviderSpec(
    name="anthropic",
    config_model=Config,
    collect=collect,
    history=history,
    summary="Claude API spend (cost report), tokens and cache savings (usage report).",
    env={"admin_key": "ANTHROPIC_ADMIN_KEY", "base_url": "ANTHROPIC_BASE_URL"},
)
