"""Cloudflare AI Gateway collector against GraphQL answers shaped like provider-apis.md 7.2.

`month.json` holds two gateways: `prod-app` (three models, $5.75, 1550 requests) and
`support-bot` (one model, $3.00, 400 requests). Its `byMetadata` rows add up to the same
totals per gateway; among them, rows without metadata (`""`, null), one whose metadata is
not JSON and one whose `feature` is an object.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.breakdowns import OTHER
from cost_exporter.errors import CollectorError, ConfigError
from cost_exporter.figures import derive
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers import REGISTRY
from cost_exporter.providers import cloudflare_ai_gateway as aigw
from cost_exporter.providers.base import Context
from cost_exporter.providers.cloudflare import GROUP_LIMIT
from cost_exporter.samples import Sample
from cost_exporter.settings import Config
from tests.fakes import fake_provider, make_config, make_refresher, spend
from tests.helpers import NOW, config_for, fast_http, fixture_json, run_provider, total, values

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
TOKEN = "cf-aig-token-very-secret-5678"
GRAPHQL = "https://api.cloudflare.com/client/v4/graphql"
ENV = {
    "CLOUDFLARE_AI_GATEWAY_API_TOKEN": TOKEN,
    "CLOUDFLARE_AI_GATEWAY_ACCOUNT_ID": ACCOUNT,
    "CLOUDFLARE_AI_GATEWAY_METADATA_KEYS": "feature, tenant",
}
GATEWAY_FAMILIES = {
    catalog.AI_GATEWAY_SPEND,
    catalog.AI_GATEWAY_REQUESTS,
    catalog.AI_GATEWAY_CACHED_REQUESTS,
    catalog.AI_GATEWAY_TOKENS,
    catalog.AI_GATEWAY_CACHE_SAVINGS,
    catalog.AI_GATEWAY_FEATURE_SPEND,
    catalog.AI_GATEWAY_FEATURE_REQUESTS,
    catalog.AI_GATEWAY_FEATURE_TOKENS,
}
MINI = ("prod-app", "openai", "gpt-4o-mini")
SONNET = ("prod-app", "anthropic", "claude-sonnet-4-5")
LLAMA = ("prod-app", "workers-ai", "@cf/meta/llama-3.1-8b-instruct")
GPT4O = ("support-bot", "openai", "gpt-4o")


def fx(name: str) -> Any:
    return fixture_json("cloudflare_ai_gateway", name)


def env_config(**extra: str) -> Config:
    return config_for(aigw.PROVIDER, env={**ENV, **extra})


async def collect_ok(httpx_mock: HTTPXMock, fixture: str = "month.json", **env: str) -> Any:
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx(fixture))
    [outcome] = await run_provider(aigw.PROVIDER, env_config(**env), NOW)
    assert outcome.ok, outcome.error_message
    return outcome


def by_model(samples: Any, family: catalog.Family, **match: str) -> dict[tuple[str, ...], Decimal]:
    found = {}
    for labels, value in values(samples, family).items():
        d = dict(labels)
        if all(d.get(k) == v for k, v in match.items()):
            found[(d["gateway"], d["upstream"], d["model"])] = value
    return found


def by_value(samples: Any, family: catalog.Family, gateway: str, key: str, **match: str) -> Any:
    found = {}
    for labels, value in values(samples, family).items():
        d = dict(labels)
        if (d["gateway"], d["metadata_key"]) == (gateway, key) and all(
            d.get(k) == v for k, v in match.items()
        ):
            found[d["metadata_value"]] = value
    return found


def sent(httpx_mock: HTTPXMock) -> tuple[httpx.Request, dict[str, Any]]:
    [request] = httpx_mock.get_requests()
    return request, json.loads(request.content)


def row(cost: str, requests: int = 10, gateway: str = "gw", metadata: Any = None) -> Any:
    return {
        "count": requests,
        "sum": {
            "cost": cost,
            "cachedRequests": 0,
            "uncachedTokensIn": requests * 100,
            "uncachedTokensOut": requests * 10,
        },
        "dimensions": {"gateway": gateway, "metadataRaw": metadata},
    }


def features(account: dict[str, Any], top_n: int = 20) -> tuple[list[Sample], int]:
    ctx = Context(http=fast_http(), now=NOW)
    models = aigw.model_totals(account, ctx)
    gateways: dict[str, aigw.Totals] = defaultdict(aigw.Totals)
    for (gateway, _, _), t in models.items():
        gateways[gateway].add(t)
    found = aigw.feature_totals(account, gateways, ["feature"], ctx)
    return aigw.feature_samples(found, top_n), ctx.skipped_records


# --- what a month gives ------------------------------------------------------------------


async def test_a_month_gives_spend_requests_and_tokens_per_gateway_upstream_and_model(
    httpx_mock: HTTPXMock,
) -> None:
    samples = (await collect_ok(httpx_mock)).samples

    spend_ = by_model(samples, catalog.AI_GATEWAY_SPEND, source="estimated")
    assert spend_ == {
        MINI: Decimal("1.25"),
        SONNET: Decimal("4.5"),
        LLAMA: Decimal(0),
        GPT4O: Decimal("3.0"),
    }
    assert by_model(samples, catalog.AI_GATEWAY_REQUESTS) == {
        MINI: 1200,
        SONNET: 300,
        LLAMA: 50,
        GPT4O: 400,
    }
    assert by_model(samples, catalog.AI_GATEWAY_CACHED_REQUESTS) == {
        MINI: 200,
        SONNET: 0,
        LLAMA: 50,
        GPT4O: 100,
    }
    assert by_model(samples, catalog.AI_GATEWAY_TOKENS, token_type="input")[MINI] == 2_500_000
    assert by_model(samples, catalog.AI_GATEWAY_TOKENS, token_type="output")[GPT4O] == 150_000
    assert total(samples, catalog.AI_GATEWAY_SPEND, gateway="prod-app") == Decimal("5.75")
    assert all(s.currency == "USD" for s in samples if s.family.money)


async def test_cache_savings_price_each_cached_request_at_the_models_uncached_average(
    httpx_mock: HTTPXMock,
) -> None:
    samples = (await collect_ok(httpx_mock)).samples

    # 200 cached x $1.25 / 1000 uncached; none cached; 100 x $3.00 / 300.
    # Every llama request was cached: no uncached average, so no figure rather than a 0.
    assert by_model(samples, catalog.AI_GATEWAY_CACHE_SAVINGS, source="estimated") == {
        MINI: Decimal("0.25"),
        SONNET: Decimal(0),
        GPT4O: Decimal(1),
    }


async def test_the_query_asks_this_month_of_every_gateway_with_the_documented_names(
    httpx_mock: HTTPXMock,
) -> None:
    await collect_ok(httpx_mock)

    request, body = sent(httpx_mock)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert body["variables"] == {
        "accountTag": ACCOUNT,
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-23T01:00:00Z",
    }
    query = body["query"]
    assert query.count("aiGatewayRequestsAdaptiveGroups(") == 2
    assert "datetimeHour_geq: $start, datetimeHour_leq: $end" in query
    for name in ("cost", "cachedRequests", "uncachedTokensIn", "uncachedTokensOut"):
        assert name in query
    assert "dimensions { gateway provider model }" in query
    assert "dimensions { gateway metadataRaw }" in query
    assert "orderBy: [sum_cost_DESC]" in query
    assert "gateway_in" not in query


async def test_listed_gateways_are_filtered_in_the_query(httpx_mock: HTTPXMock) -> None:
    samples = (
        await collect_ok(
            httpx_mock,
            "month_one_gateway.json",
            CLOUDFLARE_AI_GATEWAY_GATEWAYS="support-bot",
            CLOUDFLARE_AI_GATEWAY_METADATA_KEYS="",
        )
    ).samples

    _, body = sent(httpx_mock)
    assert body["variables"]["gateways"] == ["support-bot"]
    assert body["query"].count("gateway_in: $gateways") == 1
    assert "$gateways: [string!]" in body["query"]
    assert {dict(s.labels)["gateway"] for s in samples} == {"support-bot"}


async def test_without_metadata_keys_no_metadata_is_asked_and_no_feature_series_made(
    httpx_mock: HTTPXMock,
) -> None:
    outcome = await collect_ok(
        httpx_mock, "month_models_only.json", CLOUDFLARE_AI_GATEWAY_METADATA_KEYS=""
    )

    _, body = sent(httpx_mock)
    assert "byMetadata" not in body["query"] and "metadataRaw" not in body["query"]
    assert {s.family for s in outcome.samples} == GATEWAY_FAMILIES - {
        catalog.AI_GATEWAY_FEATURE_SPEND,
        catalog.AI_GATEWAY_FEATURE_REQUESTS,
        catalog.AI_GATEWAY_FEATURE_TOKENS,
    }


# --- per metadata value ----------------------------------------------------------------


async def test_spend_per_feature_puts_missing_and_malformed_metadata_in_unknown(
    httpx_mock: HTTPXMock,
) -> None:
    outcome = await collect_ok(httpx_mock)
    samples = outcome.samples
    spend_ = catalog.AI_GATEWAY_FEATURE_SPEND

    # unknown = no metadata ($0.30) + not JSON ($0.10) + feature is an object ($0.10).
    assert by_value(samples, spend_, "prod-app", "feature", source="estimated") == {
        "chat": Decimal("3.0"),
        "search": Decimal("1.5"),
        "summarise": Decimal("0.75"),
        "unknown": Decimal("0.5"),
    }
    # The row whose feature is an object still names a valid tenant; 42 is a number.
    assert by_value(samples, spend_, "prod-app", "tenant") == {
        "acme": Decimal("3.1"),
        "42": Decimal("1.5"),
        "globex": Decimal("0.75"),
        "unknown": Decimal("0.4"),
    }
    # metadataRaw null is "no metadata": unknown, and not a malformed record.
    assert by_value(samples, spend_, "support-bot", "feature") == {
        "triage": Decimal("2.4"),
        "unknown": Decimal("0.6"),
    }
    assert by_value(samples, spend_, "support-bot", "tenant") == {"unknown": Decimal("3.0")}
    assert outcome.skipped_records == 2  # "feature=chat" and {"feature": {...}}
    requests = by_value(samples, catalog.AI_GATEWAY_FEATURE_REQUESTS, "prod-app", "feature")
    assert requests == {"chat": 700, "search": 400, "summarise": 150, "unknown": 300}
    tokens = catalog.AI_GATEWAY_FEATURE_TOKENS
    assert by_value(samples, tokens, "prod-app", "feature", token_type="input")["chat"] == (
        1_800_000
    )
    assert by_value(samples, tokens, "support-bot", "feature", token_type="output") == {
        "triage": 120_000,
        "unknown": 30_000,
    }


@pytest.mark.parametrize("key", ["feature", "tenant"])
async def test_every_metadata_key_adds_up_to_the_gateway_totals(
    httpx_mock: HTTPXMock, key: str
) -> None:
    samples = (await collect_ok(httpx_mock)).samples

    pairs = [
        (catalog.AI_GATEWAY_FEATURE_SPEND, catalog.AI_GATEWAY_SPEND, {}),
        (catalog.AI_GATEWAY_FEATURE_REQUESTS, catalog.AI_GATEWAY_REQUESTS, {}),
        (catalog.AI_GATEWAY_FEATURE_TOKENS, catalog.AI_GATEWAY_TOKENS, {"token_type": "input"}),
        (catalog.AI_GATEWAY_FEATURE_TOKENS, catalog.AI_GATEWAY_TOKENS, {"token_type": "output"}),
    ]
    for gateway in ("prod-app", "support-bot"):
        for per_value, per_model, match in pairs:
            by_key = total(samples, per_value, gateway=gateway, metadata_key=key, **match)
            assert by_key == total(samples, per_model, gateway=gateway, **match), per_value.name


def test_top_n_keeps_the_most_expensive_values_and_sums_the_rest_as_other() -> None:
    rows = [row(f"{n}.00", metadata=json.dumps({"feature": f"f{n:02d}"})) for n in range(1, 31)]
    rows.append(row("0.50", requests=7, metadata=None))
    model = {
        "count": 307,
        "sum": {"cost": 465.5, "cachedRequests": 0, "uncachedTokensIn": 1, "uncachedTokensOut": 1},
        "dimensions": {"gateway": "gw", "provider": "openai", "model": "gpt-4o"},
    }

    samples, skipped = features({"byModel": [model], "byMetadata": rows}, top_n=3)

    spend_ = by_value(samples, catalog.AI_GATEWAY_FEATURE_SPEND, "gw", "feature")
    # f30, f29, f28 kept; f01..f27 = 378 in other; unknown never folded into other.
    assert spend_ == {
        "f30": Decimal(30),
        "f29": Decimal(29),
        "f28": Decimal(28),
        OTHER: Decimal(378),
        "unknown": Decimal("0.5"),
    }
    requests = by_value(samples, catalog.AI_GATEWAY_FEATURE_REQUESTS, "gw", "feature")
    assert requests[OTHER] == 270 and requests["unknown"] == 7
    assert skipped == 0


def test_a_metadata_breakdown_that_hits_the_group_limit_puts_the_rest_in_other() -> None:
    rows = [row("0.01", requests=1, metadata='{"feature":"chat"}')] * GROUP_LIMIT
    model = {
        "count": GROUP_LIMIT + 500,
        "sum": {"cost": 150, "cachedRequests": 0, "uncachedTokensIn": 0, "uncachedTokensOut": 0},
        "dimensions": {"gateway": "gw", "provider": "openai", "model": "gpt-4o"},
    }

    samples, _ = features({"byModel": [model], "byMetadata": rows})

    spend_ = by_value(samples, catalog.AI_GATEWAY_FEATURE_SPEND, "gw", "feature")
    assert spend_ == {"chat": Decimal(100), OTHER: Decimal(50)}
    requests = by_value(samples, catalog.AI_GATEWAY_FEATURE_REQUESTS, "gw", "feature")
    assert requests == {"chat": GROUP_LIMIT, OTHER: 500}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"feature": "chat"}', "chat"),
        ('{"feature": 12345}', "12345"),
        ('{"feature": true}', "true"),
        ('{"feature": "  "}', "unknown"),
        ('{"other": "x"}', "unknown"),
        ('{"feature": null}', "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        ('{"feature": ["a"]}', None),
        ("[1, 2]", None),
        ("{not json", None),
        (42, None),
    ],
)
def test_metadata_values_are_scalars_or_unknown_and_anything_else_is_malformed(
    raw: Any, expected: str | None
) -> None:
    metadata = aigw.parse_metadata(raw)
    value = aigw.metadata_value(metadata, "feature") if metadata is not None else None
    assert value == expected


# --- odd answers -----------------------------------------------------------------------


async def test_malformed_rows_are_counted_and_skipped_and_missing_dimensions_are_unknown(
    httpx_mock: HTTPXMock,
) -> None:
    outcome = await collect_ok(
        httpx_mock, "malformed_rows.json", CLOUDFLARE_AI_GATEWAY_METADATA_KEYS=""
    )

    assert by_model(outcome.samples, catalog.AI_GATEWAY_SPEND) == {
        MINI: Decimal("0.5"),
        ("unknown", "unknown", "unknown"): Decimal("0.25"),
    }
    assert outcome.skipped_records == 3  # "lots" requests, a negative cost, a string row


async def test_a_month_without_traffic_succeeds_with_no_series(httpx_mock: HTTPXMock) -> None:
    outcome = await collect_ok(httpx_mock, "empty_month.json")
    assert outcome.samples == ()
    assert outcome.skipped_records == 0


async def test_the_collector_emits_only_the_gateway_families_never_spend_totals(
    httpx_mock: HTTPXMock,
) -> None:
    outcome = await collect_ok(httpx_mock)
    assert {s.family for s in outcome.samples} == GATEWAY_FAMILIES


async def test_the_grand_month_to_date_total_is_the_same_with_the_gateway_collector_on(
    httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(REGISTRY, aigw.PROVIDER.name, aigw.PROVIDER)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("month.json"))
    published = {}
    with fake_provider() as fakes:
        fakes.returns("default", spend("12.34"))
        # Off: no CLOUDFLARE_AI_GATEWAY_* variable. On: the collector, from the environment.
        for name, env in (("off", {}), ("on", ENV)):
            config = make_config(tmp_path, "providers:\n  fake:\n    - account: default\n", env)
            refresher = make_refresher(tmp_path / name, config, clock=lambda: NOW)
            result = await refresher.refresh()
            assert all(o.ok for o in result.accounts), result.summary()
            published[name] = derive(refresher.snapshot, config, NOW)
            await refresher.http.aclose()

    def grand(family: catalog.Family, name: str) -> Decimal:
        return sum(published[name].get(family, {}).values(), Decimal(0))

    assert grand(catalog.MONTH_TO_DATE, "on") == grand(catalog.MONTH_TO_DATE, "off")
    assert grand(catalog.MONTH_TO_DATE, "on") == Decimal("12.34")
    assert grand(catalog.AI_GATEWAY_SPEND, "on") == Decimal("8.75")  # the collector did run


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("error_authz.json", "auth"),
        ("error_unknown_field.json", "http_4xx"),
        ("error_rate_limit.json", "rate_limited"),
        ("no_account.json", "empty"),
    ],
)
async def test_graphql_errors_sent_with_http_200_fail_the_collection(
    httpx_mock: HTTPXMock, fixture: str, reason: str
) -> None:
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx(fixture))
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert not outcome.ok
    assert outcome.error_reason == reason
    assert len(httpx_mock.get_requests()) == 1


async def test_a_graphql_error_says_what_graphql_said(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("error_unknown_field.json"))
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert 'unknown field "metadataRaw"' in (outcome.error_message or "")


async def test_an_answer_without_the_model_rows_is_a_parse_error(httpx_mock: HTTPXMock) -> None:
    body = {"data": {"viewer": {"accounts": [{"byMetadata": []}]}}, "errors": None}
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=body)
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "parse"


def test_model_rows_at_the_group_limit_are_refused_rather_than_undercounted() -> None:
    rows = [row("1")] * GROUP_LIMIT
    with pytest.raises(CollectorError) as caught:
        aigw.model_totals({"byModel": rows}, Context(http=fast_http(), now=NOW))
    assert caught.value.reason == "parse"


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_fails_with_auth_and_never_shows_the_token(
    httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(
        url=GRAPHQL, method="POST", status_code=status, json=fx("envelope_auth_error.json")
    )
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "auth"
    assert TOKEN not in (outcome.error_message or "")
    assert f"HTTP {status}" in (outcome.error_message or "")
    assert len(httpx_mock.get_requests()) == 1


async def test_a_429_waits_for_its_retry_after_and_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=GRAPHQL, method="POST", status_code=429, headers={"Retry-After": "0.3"}
    )
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("month.json"))
    [entry] = env_config().accounts
    # No backoff of its own: any wait comes from Retry-After.
    http = HttpClient(retry=RetryPolicy(max_attempts=3, initial_wait_s=0, max_wait_s=5))
    started = time.monotonic()
    try:
        samples = await aigw.collect(entry.config, Context(http=http, now=NOW))
    finally:
        await http.aclose()
    assert time.monotonic() - started >= 0.3
    assert total(samples, catalog.AI_GATEWAY_SPEND) == Decimal("8.75")
    assert len(httpx_mock.get_requests()) == 2


async def test_a_429_that_never_clears_counts_as_rate_limited(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=GRAPHQL,
        method="POST",
        status_code=429,
        headers={"Retry-After": "0"},
        is_reusable=True,
    )
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "rate_limited"
    assert len(httpx_mock.get_requests()) == 3


async def test_a_5xx_that_persists_fails_with_http_5xx(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=GRAPHQL, method="POST", status_code=502, is_reusable=True)
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "http_5xx"
    assert len(httpx_mock.get_requests()) == 3


async def test_a_timeout_fails_with_timeout(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=GRAPHQL, is_reusable=True)
    [outcome] = await run_provider(aigw.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "timeout"
    assert len(httpx_mock.get_requests()) == 3


# --- configuration -----------------------------------------------------------------------


def test_the_environment_gives_gateways_and_metadata_keys_comma_separated() -> None:
    [entry] = env_config(
        CLOUDFLARE_AI_GATEWAY_GATEWAYS="prod-app, support-bot",
        CLOUDFLARE_AI_GATEWAY_BASE_URL="http://127.0.0.1:9/client/v4/",
    ).accounts
    config = entry.config
    assert isinstance(config, aigw.Config)
    assert config.gateways == ["prod-app", "support-bot"]
    assert config.metadata_keys == ["feature", "tenant"]
    assert config.base_url == "http://127.0.0.1:9/client/v4"
    assert config.top_n == 20


def test_top_n_and_lists_come_from_the_config_file(tmp_path: Path) -> None:
    accounts = [{"account_id": ACCOUNT, "gateways": ["prod-app"], "top_n": 5}]
    env = {"CLOUDFLARE_AI_GATEWAY_API_TOKEN": TOKEN}
    [entry] = config_for(aigw.PROVIDER, accounts, env, tmp_path=tmp_path).accounts
    assert isinstance(entry.config, aigw.Config)
    assert (entry.config.gateways, entry.config.metadata_keys, entry.config.top_n) == (
        ["prod-app"],
        [],
        5,
    )


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"CLOUDFLARE_AI_GATEWAY_GATEWAYS": "prod,prod"}, "listed twice"),
        ({"CLOUDFLARE_AI_GATEWAY_METADATA_KEYS": "a,b,c,d,e,f"}, "metadata_keys"),
        ({"CLOUDFLARE_AI_GATEWAY_ACCOUNT_ID": "not-an-account"}, "account_id"),
    ],
)
def test_a_bad_setting_is_refused_at_start_up_naming_the_key(
    extra: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        env_config(**extra)
    assert says in str(caught.value)
