"""Cloudflare AI Gateway: AI spend, requests, tokens and cache per model and per feature.

One `POST https://api.cloudflare.com/client/v4/graphql` per collection reads the
GraphQL Analytics dataset `aiGatewayRequestsAdaptiveGroups` for this calendar month
(UTC, `datetimeHour_geq`/`_leq`), optionally only the gateways listed (`gateway_in`):

* `byModel`: `count` and `sum { cost cachedRequests uncachedTokensIn uncachedTokensOut }`
  by `gateway provider model`;
* `byMetadata` (when `metadata_keys` is set): the same sums by `gateway metadataRaw`
  (the request's `cf-aig-metadata` JSON), most expensive first.

Credential: an API token with the read-only account permission *Account Analytics Read*
(GraphQL datasets); *AI Gateway Read* alone covers the gateway REST API and logs, not
this dataset. The Cloudflare collector's token works too (`token_env: CLOUDFLARE_API_TOKEN`).

    cost_ai_gateway_spend{provider="cloudflare_ai_gateway",account="default",gateway="prod",upstream="openai",model="gpt-4o-mini",currency="USD",source="estimated"} 1.25
    cost_ai_gateway_tokens{provider="cloudflare_ai_gateway",account="default",gateway="prod",upstream="openai",model="gpt-4o-mini",token_type="input"} 2.5e+06
    cost_ai_gateway_feature_spend{provider="cloudflare_ai_gateway",account="default",gateway="prod",metadata_key="feature",metadata_value="chat",currency="USD",source="estimated"} 0.9

`cost` is the gateway's estimate from its own price table, and the same traffic is
billed by OpenAI, Anthropic...: every money series is `source="estimated"` and none
ever goes into `cost_month_to_date` (nor the daily spend), so totals never count twice.

* Requests are `count` (cached and errored included); cached requests are a subset.
* Tokens are the uncached ones (`uncachedTokensIn/Out`): what the upstream provider
  processed and billed. Requests served from the gateway cache are counted apart.
* Cache savings = cached requests x cost / (requests - cached requests) of the same
  gateway, upstream and model: a cache hit costs nothing, so the average cost of an
  uncached request is what each hit would have cost. No uncached request, no average:
  the series is left out rather than shown as 0.
* Per metadata key, values are capped to the `top_n` by spend, the rest summed as
  `other`; a row without the key goes to `unknown`, and one whose metadata is not a
  JSON object (or whose value is an object or a list) goes to `unknown` and is counted
  as a skipped record. `unknown` is never folded into `other`. If `byMetadata` hits the
  group limit, what it left out (gateway total minus the rows read) goes to `other`.

GraphQL reports errors with HTTP 200 in `errors`; they fail the collection.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr, field_validator

from cost_exporter import catalog
from cost_exporter.breakdowns import OTHER, top_n
from cost_exporter.errors import CollectorError
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.providers.cloudflare import GROUP_LIMIT, dig, graphql_account, iso_time
from cost_exporter.samples import BadAmount, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

UNKNOWN = "unknown"
CURRENCY = "USD"
MAX_LABEL = 128
MAX_METADATA_KEYS = 5  # cf-aig-metadata keeps the first five entries of a request
SUMS = "count sum { cost cachedRequests uncachedTokensIn uncachedTokensOut }"


class Config(HttpAccountConfig):
    base_url: str = "https://api.cloudflare.com/client/v4"
    token: SecretStr
    account_id: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    gateways: list[str] = Field(default_factory=list)
    """Gateway ids to read (comma-separated in the environment); empty: every gateway."""
    metadata_keys: list[str] = Field(default_factory=list, max_length=MAX_METADATA_KEYS)
    """cf-aig-metadata keys to break spend down by, e.g. feature, tenant."""
    top_n: int = Field(20, ge=1, le=500)
    """Values kept per gateway and metadata key; the rest are summed as `other`."""

    @field_validator("gateways", "metadata_keys", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("gateways", "metadata_keys")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if any(not name.strip() for name in names):
            raise ValueError("an entry is empty")
        if len(set(names)) != len(names):
            raise ValueError("an entry is listed twice; it would be counted twice")
        return names


@dataclass
class Totals:
    requests: Decimal = Decimal(0)
    cached: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    tokens_in: Decimal = Decimal(0)
    tokens_out: Decimal = Decimal(0)

    def add(self, other: Totals) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def minus(self, other: Totals) -> Totals:
        """Self less `other`, field by field, never below 0 (two sampled aliases can disagree)."""
        return Totals(
            *(max(getattr(self, f.name) - getattr(other, f.name), Decimal(0)) for f in fields(self))
        )

    def savings(self) -> Decimal | None:
        if not self.cached:
            return Decimal(0)
        uncached = self.requests - self.cached
        return self.cached * self.cost / uncached if uncached > 0 else None


def build_query(by_gateway: bool, by_metadata: bool) -> str:
    params = "$accountTag: string!, $start: Time, $end: Time"
    where = "datetimeHour_geq: $start, datetimeHour_leq: $end"
    if by_gateway:
        params, where = f"{params}, $gateways: [string!]", f"{where}, gateway_in: $gateways"
    groups = (
        f"byModel: aiGatewayRequestsAdaptiveGroups(limit: {GROUP_LIMIT}, filter: {{{where}}}) "
        f"{{ {SUMS} dimensions {{ gateway provider model }} }}"
    )
    if by_metadata:
        groups += (
            f"\n      byMetadata: aiGatewayRequestsAdaptiveGroups(limit: {GROUP_LIMIT}, "
            f"filter: {{{where}}}, orderBy: [sum_cost_DESC]) "
            f"{{ {SUMS} dimensions {{ gateway metadataRaw }} }}"
        )
    return (
        f"query CostExporterAiGateway({params}) {{\n  viewer {{\n    accounts(filter: "
        f"{{accountTag: $accountTag}}) {{\n      {groups}\n    }}\n  }}\n}}"
    )


def read_totals(row: Mapping[str, Any]) -> Totals:
    totals = Totals(
        requests=to_decimal(row.get("count")),
        cached=to_decimal(dig(row, "sum", "cachedRequests")),
        cost=to_decimal(dig(row, "sum", "cost")),
        tokens_in=to_decimal(dig(row, "sum", "uncachedTokensIn")),
        tokens_out=to_decimal(dig(row, "sum", "uncachedTokensOut")),
    )
    if any(getattr(totals, f.name) < 0 for f in fields(totals)):
        raise BadAmount("a negative count or cost")
    return totals


def label(raw: Any) -> str:
    return raw.strip()[:MAX_LABEL] if isinstance(raw, str) and raw.strip() else UNKNOWN


def parse_metadata(raw: Any) -> dict[str, Any] | None:
    """The cf-aig-metadata object of a row: {} when none was sent, None when unreadable."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, dict) else None


def metadata_value(metadata: Mapping[str, Any], key: str) -> str | None:
    """The label of `key` (strings, numbers and booleans); None for an object or a list."""
    value = metadata.get(key)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None or isinstance(value, str):
        return label(value)
    return None


def group_rows(
    account: Mapping[str, Any], alias: str, ctx: Context
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of one alias and whether they reached the group limit."""
    rows = account.get(alias)
    if not isinstance(rows, list):
        raise CollectorError("parse", f"POST graphql: no {alias} list")
    good = [row for row in rows if isinstance(row, dict)]
    for _ in range(len(rows) - len(good)):
        ctx.skip(alias, "row is not an object")
    return good, len(rows) >= GROUP_LIMIT


def model_totals(account: Mapping[str, Any], ctx: Context) -> dict[tuple[str, str, str], Totals]:
    rows, full = group_rows(account, "byModel", ctx)
    if full:
        raise CollectorError("parse", f"POST graphql: byModel hit {GROUP_LIMIT} groups")
    totals: dict[tuple[str, str, str], Totals] = defaultdict(Totals)
    for row in rows:
        try:
            read = read_totals(row)
        except BadAmount as exc:
            ctx.skip("byModel", str(exc))
            continue
        dims = (dig(row, "dimensions", name) for name in ("gateway", "provider", "model"))
        gateway, upstream, model = (label(value) for value in dims)
        totals[(gateway, upstream, model)].add(read)
    return totals


def model_samples(totals: Mapping[tuple[str, str, str], Totals]) -> list[Sample]:
    samples = []
    for (gateway, upstream, model), t in sorted(totals.items()):
        labels = {"gateway": gateway, "upstream": upstream, "model": model}
        money = {**labels, "source": "estimated"}
        samples += [
            Sample.of(catalog.AI_GATEWAY_SPEND, Money(t.cost, CURRENCY), **money),
            Sample.of(catalog.AI_GATEWAY_REQUESTS, t.requests, **labels),
            Sample.of(catalog.AI_GATEWAY_CACHED_REQUESTS, t.cached, **labels),
            Sample.of(catalog.AI_GATEWAY_TOKENS, t.tokens_in, **labels, token_type="input"),
            Sample.of(catalog.AI_GATEWAY_TOKENS, t.tokens_out, **labels, token_type="output"),
        ]
        saved = t.savings()
        if saved is not None:
            samples.append(
                Sample.of(catalog.AI_GATEWAY_CACHE_SAVINGS, Money(saved, CURRENCY), **money)
            )
    return samples


def feature_totals(
    account: Mapping[str, Any],
    by_gateway: Mapping[str, Totals],
    keys: Iterable[str],
    ctx: Context,
) -> dict[tuple[str, str], dict[str, Totals]]:
    """(gateway, metadata key) -> metadata value -> totals, before the top-N cap."""
    rows, full = group_rows(account, "byMetadata", ctx)
    found: dict[tuple[str, str], dict[str, Totals]] = defaultdict(lambda: defaultdict(Totals))
    read_per_gateway: dict[str, Totals] = defaultdict(Totals)
    for row in rows:
        try:
            read = read_totals(row)
        except BadAmount as exc:
            ctx.skip("byMetadata", str(exc))
            continue
        gateway = label(dig(row, "dimensions", "gateway"))
        read_per_gateway[gateway].add(read)
        metadata = parse_metadata(dig(row, "dimensions", "metadataRaw"))
        values = {key: metadata_value(metadata or {}, key) for key in keys}
        if metadata is None or None in values.values():
            ctx.skip("byMetadata", "metadataRaw is not a JSON object of scalars")
        for key, value in values.items():
            found[(gateway, key)][value or UNKNOWN].add(read)
    if full:
        ctx.log.warning("ai_gateway_metadata_truncated", groups=GROUP_LIMIT)
        for gateway, whole in by_gateway.items():
            rest = whole.minus(read_per_gateway[gateway])
            for key in keys:
                found[(gateway, key)][OTHER].add(rest)
    return found


def capped(values: Mapping[str, Totals], n: int) -> dict[str, Totals]:
    """The top `n` values by spend, the rest summed as `other`; `unknown` always kept."""
    kept = set(top_n({v: t.cost for v, t in values.items() if v != UNKNOWN}, n))
    out: dict[str, Totals] = defaultdict(Totals)
    for value, totals in values.items():
        out[value if value == UNKNOWN or value in kept else OTHER].add(totals)
    return out


def feature_samples(found: Mapping[tuple[str, str], Mapping[str, Totals]], n: int) -> list[Sample]:
    samples = []
    for (gateway, key), values in sorted(found.items()):
        for value, t in sorted(capped(values, n).items()):
            labels = {"gateway": gateway, "metadata_key": key, "metadata_value": value}
            samples += [
                Sample.of(
                    catalog.AI_GATEWAY_FEATURE_SPEND,
                    Money(t.cost, CURRENCY),
                    **labels,
                    source="estimated",
                ),
                Sample.of(catalog.AI_GATEWAY_FEATURE_REQUESTS, t.requests, **labels),
                Sample.of(
                    catalog.AI_GATEWAY_FEATURE_TOKENS, t.tokens_in, **labels, token_type="input"
                ),
                Sample.of(
                    catalog.AI_GATEWAY_FEATURE_TOKENS, t.tokens_out, **labels, token_type="output"
                ),
            ]
    return samples


async def collect(config: Config, ctx: Context) -> list[Sample]:
    variables: dict[str, Any] = {
        "accountTag": config.account_id,
        "start": iso_time(ctx.month_start),
        "end": iso_time(ctx.now),
    }
    if config.gateways:
        variables["gateways"] = config.gateways
    query = build_query(bool(config.gateways), bool(config.metadata_keys))
    body = await ctx.http.post_json(
        f"{config.base_url}/graphql",
        {"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {config.token.get_secret_value()}"},
    )
    account = graphql_account(body)
    models = model_totals(account, ctx)
    samples = model_samples(models)
    if config.metadata_keys:
        by_gateway: dict[str, Totals] = defaultdict(Totals)
        for (gateway, _, _), totals in models.items():
            by_gateway[gateway].add(totals)
        found = feature_totals(account, by_gateway, config.metadata_keys, ctx)
        samples += feature_samples(found, config.top_n)
    return samples


PROVIDER = ProviderSpec(
    name="cloudflare_ai_gateway",
    config_model=Config,
    collect=collect,
    summary="AI spend, tokens and cache per model and per cf-aig-metadata value (estimated).",
    env={
        "token": "CLOUDFLARE_AI_GATEWAY_API_TOKEN",
        "account_id": "CLOUDFLARE_AI_GATEWAY_ACCOUNT_ID",
        "gateways": "CLOUDFLARE_AI_GATEWAY_GATEWAYS",
        "metadata_keys": "CLOUDFLARE_AI_GATEWAY_METADATA_KEYS",
        "base_url": "CLOUDFLARE_AI_GATEWAY_BASE_URL",
    },
)
