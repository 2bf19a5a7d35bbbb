from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog, pricing
from cost_exporter.errors import ConfigError
from cost_exporter.health import Outcome
from cost_exporter.http_client import HttpClient
from cost_exporter.providers.anthropic import (
    PROVIDER,
    estimate_usd,
    parse_cost_page,
    parse_usage_page,
    service_name,
)
from cost_exporter.providers.base import Context
from cost_exporter.samples import Sample
from cost_exporter.settings import Config
from tests.helpers import (
    NOW,
    by_day,
    config_for,
    fixture_json,
    run_history,
    run_provider,
    total,
    values,
)

SECRET = "sk-ant-admin01-test-secret-value"
COST_URL = re.compile(r"https://api\.anthropic\.com/v1/organizations/cost_report\?.*")
USAGE_URL = re.compile(r"https://api\.anthropic\.com/v1/organizations/usage_report/messages\?.*")
COST_PAGES = ("cost_report_page1.json", "cost_report_page2.json")
USAGE_PAGES = ("usage_messages_page1.json", "usage_messages_page2.json")
WS_A = "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
WS_B = "wrkspc_01Pq8dK3mVbT2xNcW7yHsZrE"
KEY_A = "apikey_01Rj2N8SVvo6BePZj99NhmiT"
KEY_B = "apikey_01Xk4M2TQwp9DfRa11OjkLuV"
KEY_C = "apikey_01Hb7C5VRzs3GeUc44PmnWxY"
SONNET = "claude-sonnet-4-20250514"
OPUS = "claude-opus-4-6"


def env_config(**env: str) -> Config:
    return config_for(PROVIDER, env={"ANTHROPIC_ADMIN_KEY": SECRET, **env})


def mock_reports(httpx_mock: HTTPXMock, usage: tuple[str, ...] = USAGE_PAGES) -> None:
    for name in COST_PAGES:
        httpx_mock.add_response(url=COST_URL, json=fixture_json("anthropic", name))
    for name in usage:
        httpx_mock.add_response(url=USAGE_URL, json=fixture_json("anthropic", name))


async def collect_ok(config: Config) -> tuple[Sample, ...]:
    [outcome] = await run_provider(PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    return outcome.samples or ()


async def collect_failing(config: Config) -> Outcome:
    [outcome] = await run_provider(PROVIDER, config, NOW)
    assert not outcome.ok
    return outcome


def fixture_cents(name: str, month_prefix: str) -> Decimal:
    """Sum of a cost fixture's amounts for one month, converted from cents."""
    return sum(
        (
            Decimal(row["amount"]) / 100
            for bucket in fixture_json("anthropic", name)["data"]
            if bucket["starting_at"].startswith(month_prefix)
            for row in bucket["results"]
        ),
        Decimal(0),
    )


def ctx() -> Context:
    return Context(http=HttpClient(), now=NOW)


# --- requests --------------------------------------------------------------------


async def test_every_page_of_both_reports_is_requested_with_the_admin_headers(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    await collect_ok(env_config())
    cost = [r for r in httpx_mock.get_requests() if r.url.path.endswith("/cost_report")]
    usage = [r for r in httpx_mock.get_requests() if r.url.path.endswith("/messages")]
    assert [r.url.params.get("page") for r in cost] == [None, "page_MjAyNi0xMS0wMVQwMDowMDowMFo="]
    assert [r.url.params.get("page") for r in usage] == [None, "page_MjAyNi0xMS0xMlQwMDowMDowMFo="]
    assert cost[0].url.params.get_list("group_by[]") == ["description", "workspace_id"]
    assert usage[0].url.params.get_list("group_by[]") == ["model", "api_key_id"]
    assert cost[0].url.params["starting_at"] == "2026-10-01T00:00:00Z"
    assert usage[0].url.params["starting_at"] == "2026-11-01T00:00:00Z"
    assert {r.url.params["bucket_width"] for r in cost + usage} == {"1d"}
    assert {r.url.params["limit"] for r in cost + usage} == {"31"}
    assert {r.headers["x-api-key"] for r in cost + usage} == {SECRET}
    assert {r.headers["anthropic-version"] for r in cost + usage} == {"2023-06-01"}


async def test_on_the_first_of_the_month_only_the_cost_report_is_read(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=COST_URL, json=fixture_json("anthropic", "cost_report_page1.json"))
    httpx_mock.add_response(url=COST_URL, json={"data": [], "has_more": False})
    [outcome] = await run_provider(PROVIDER, env_config(), datetime(2026, 11, 1, 1, tzinfo=UTC))
    samples = outcome.samples or ()
    # The 1st of November: October is complete (and so are its days), November has no
    # finished day.
    assert total(samples, catalog.PREVIOUS_MONTH) == Decimal("760.0025")
    assert total(samples, catalog.DAILY_SPEND) == Decimal("760.0025")
    monthly = (catalog.PREVIOUS_MONTH, catalog.DAILY_SPEND, catalog.AI_PRICE_TABLE_AS_OF)
    assert not [s for s in samples if s.family not in monthly]
    assert not httpx_mock.get_requests(url=USAGE_URL)


async def test_base_url_comes_from_anthropic_base_url(httpx_mock: HTTPXMock) -> None:
    empty = {"data": [], "has_more": False, "next_page": None}
    httpx_mock.add_response(url=re.compile(r"https://proxy\.test/anthropic/.*"), json=empty)
    httpx_mock.add_response(url=re.compile(r"https://proxy\.test/anthropic/.*"), json=empty)
    samples = await collect_ok(env_config(ANTHROPIC_BASE_URL="https://proxy.test/anthropic/"))
    assert [s.family for s in samples] == [catalog.AI_PRICE_TABLE_AS_OF]
    assert len(httpx_mock.get_requests()) == 2


# --- spend (cost report) ---------------------------------------------------------


async def test_month_to_date_reconciles_with_the_cost_report_to_the_cent(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    expected = fixture_cents("cost_report_page2.json", "2026-11")
    # 123.78912 + 2500.5 + 12.3 + 5000 + 7000.01 + 100 + 35.5 = 14772.09912 cents
    assert expected == Decimal("147.7209912")
    month_to_date = total(samples, catalog.MONTH_TO_DATE)
    assert month_to_date == expected
    assert month_to_date.quantize(Decimal("0.01")) == Decimal("147.72")
    assert total(samples, catalog.AI_SPEND_BY_PROJECT) == expected
    assert total(samples, catalog.AI_SPEND_BY_MODEL) == expected
    assert {s.label("source") for s in samples if s.family is catalog.MONTH_TO_DATE} == {"api"}


async def test_previous_month_sums_the_october_buckets(httpx_mock: HTTPXMock) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    assert fixture_cents("cost_report_page1.json", "2026-10") == Decimal("760.0025")
    assert values(samples, catalog.PREVIOUS_MONTH) == {
        (
            ("charge_frequency", "usage_based"),
            ("service_name", "Claude Sonnet 4 usage"),
            ("source", "api"),
        ): Decimal("750.0025"),
        (
            ("charge_frequency", "usage_based"),
            ("service_name", "Web search"),
            ("source", "api"),
        ): Decimal("10"),
    }


async def test_daily_spend_of_the_day_buckets_adds_up_to_each_month(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    daily = by_day(samples)
    november = sum(v for day, v in daily.items() if day.startswith("2026-11"))
    october = sum(v for day, v in daily.items() if day.startswith("2026-10"))
    assert november == total(samples, catalog.MONTH_TO_DATE) > 0
    assert october == total(samples, catalog.PREVIOUS_MONTH) == Decimal("760.0025")
    assert max(daily) < "2026-11-23"  # only complete days


async def test_history_reads_the_cost_report_by_description_in_31_day_pages(
    httpx_mock: HTTPXMock,
) -> None:
    for name in COST_PAGES:
        httpx_mock.add_response(url=COST_URL, json=fixture_json("anthropic", name))
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    samples = await run_history(PROVIDER, env_config(), start, end)
    first, second = httpx_mock.get_requests()
    assert first.url.params["starting_at"] == "2026-10-01T00:00:00Z"
    assert first.url.params["ending_at"] == "2026-11-23T00:00:00Z"
    assert first.url.params.get_list("group_by[]") == ["description"]
    assert (first.url.params["limit"], first.url.params["bucket_width"]) == ("31", "1d")
    assert second.url.params["page"] == "page_MjAyNi0xMS0wMVQwMDowMDowMFo="
    expected = fixture_cents("cost_report_page1.json", "2026-1") + fixture_cents(
        "cost_report_page2.json", "2026-1"
    )
    assert sum(by_day(samples).values()) == expected
    per_service = values(samples, catalog.DAILY_SERVICE_SPEND)
    assert sum(per_service.values()) == expected


async def test_spend_is_one_series_per_model_line_or_tool(httpx_mock: HTTPXMock) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    by_service = {
        s.label("service_name"): s.value for s in samples if s.family is catalog.MONTH_TO_DATE
    }
    assert by_service == {
        "Claude Sonnet 4 usage": Decimal("26.3658912"),
        "Claude Opus 4.6 usage": Decimal("120.0001"),
        "Web search": Decimal("1"),
        "Code execution": Decimal("0.355"),
    }


async def test_null_workspace_is_the_default_project_and_null_model_is_none(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    assert values(samples, catalog.AI_SPEND_BY_PROJECT) == {
        (("project", WS_A),): Decimal("26.2428912"),
        (("project", WS_B),): Decimal("121.0001"),
        (("project", "default"),): Decimal("0.478"),
    }
    assert values(samples, catalog.AI_SPEND_BY_MODEL) == {
        (("model", SONNET), ("source", "api")): Decimal("26.3658912"),
        (("model", OPUS), ("source", "api")): Decimal("120.0001"),
        (("model", "none"), ("source", "api")): Decimal("1.355"),
    }


def test_cost_amounts_are_decimal_strings_in_cents() -> None:
    page = {
        "data": [
            {
                "starting_at": "2026-11-02T00:00:00Z",
                "ending_at": "2026-11-03T00:00:00Z",
                "results": [{"amount": "123.45", "currency": "USD", "cost_type": "tokens"}],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    [row] = parse_cost_page(page, ctx())
    assert row.usd == Decimal("1.2345")
    assert (row.project, row.model, row.service_name) == ("default", "none", "Claude API usage")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"cost_type": "tokens", "description": "Claude Haiku 4.5 Usage - Output Tokens"},
         "Claude Haiku 4.5 usage"),
        ({"cost_type": "web_search", "description": "Web Search Usage"}, "Web search"),
        ({"cost_type": "code_execution", "description": None}, "Code execution"),
        ({"cost_type": "tokens", "description": None, "model": "claude-opus-4-6"},
         "claude-opus-4-6 usage"),
        ({"cost_type": "something_new", "description": "Fancy Thing - Per Hour"},
         "Fancy Thing usage"),
    ],
)  # fmt: skip
def test_service_name_keeps_the_model_line_and_drops_the_token_type(
    row: dict[str, Any], expected: str
) -> None:
    assert service_name(row) == expected


async def test_a_non_usd_cost_report_fails_instead_of_mixing_currencies(
    httpx_mock: HTTPXMock,
) -> None:
    bucket = {
        "starting_at": "2026-11-02T00:00:00Z",
        "ending_at": "2026-11-03T00:00:00Z",
        "results": [{"amount": "100", "currency": "EUR", "cost_type": "tokens"}],
    }
    httpx_mock.add_response(url=COST_URL, json={"data": [bucket], "has_more": False})
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "parse"


# --- tokens, cache savings and estimates (usage report) ---------------------------


async def test_tokens_are_summed_per_model_with_uncached_input_as_input(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    sonnet = {
        s.label("token_type"): s.value
        for s in samples
        if s.family is catalog.AI_TOKENS and s.label("model") == SONNET
    }
    assert sonnet == {
        "input": Decimal(1_000_000 + 50_000 + 500_000),
        "cache_write": Decimal(200_000),
        "cached_input": Decimal(2_000_000 + 1_000_000),
        "output": Decimal(300_000 + 10_000 + 100_000),
    }
    opus_writes = total(samples, catalog.AI_TOKENS, model=OPUS, token_type="cache_write")
    assert opus_writes == Decimal(100_000)  # 5m (0) + 1h (100 000)
    assert not [s for s in samples if s.family is catalog.AI_REQUESTS]


async def test_cache_savings_equal_the_hand_computed_value_from_the_price_table(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    prices = pricing.prices_for("anthropic")
    sonnet, opus = prices["claude-sonnet-4"], prices["claude-opus-4"]
    assert (sonnet.input, sonnet.cache_read) == (Decimal("3.00"), Decimal("0.30"))
    assert (opus.input, opus.cache_read) == (Decimal("5.00"), Decimal("0.50"))
    # Sonnet: 3 000 000 cache-read tokens x ($3.00 - $0.30) / 1e6 = $8.10
    # Opus 4.6: 1 000 000 cache-read tokens x ($5.00 - $0.50) / 1e6 = $4.50
    assert values(samples, catalog.AI_CACHE_SAVINGS) == {
        (("model", SONNET),): Decimal("8.10"),
        (("model", OPUS),): Decimal("4.50"),
    }


async def test_an_unknown_model_is_counted_as_unpriced_and_never_priced_at_zero(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    assert values(samples, catalog.AI_UNPRICED_TOKENS) == {
        (("model", "claude-nova-9"),): Decimal(1234 + 100 + 567)
    }
    assert total(samples, catalog.AI_TOKENS, model="claude-nova-9") == Decimal(1901)
    assert not [s for s in samples if s.label("model") == "claude-nova-9" and s.currency]
    assert KEY_C not in {s.label("api_key") for s in samples}


async def test_spend_per_api_key_is_estimated_from_tokens_and_list_prices(
    httpx_mock: HTTPXMock,
) -> None:
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    # Key A, Sonnet ($3 in, $15 out, $0.30 read, $3.75 5m write), per million tokens:
    #   Nov 3:  1.0 x 3 + 0.2 x 3.75 + 2.0 x 0.30 + 0.3 x 15 = 3 + 0.75 + 0.6 + 4.5 = 8.85
    #   Nov 12: 0.5 x 3 + 1.0 x 0.30 + 0.1 x 15             = 1.5 + 0.3 + 1.5     = 3.30
    # Key B, Opus 4.6 ($5 in, $25 out, $0.50 read, 1h write = 2 x $5):
    #   0.4 x 5 + 0.1 x 10 + 1.0 x 0.5 + 0.08 x 25 = 2 + 1 + 0.5 + 2 = 5.50
    # Console (no key), Sonnet: 0.05 x 3 + 0.01 x 15 = 0.30
    assert values(samples, catalog.AI_SPEND_BY_API_KEY) == {
        (("api_key", KEY_A), ("source", "estimated")): Decimal("12.15"),
        (("api_key", KEY_B), ("source", "estimated")): Decimal("5.50"),
        (("api_key", "console"), ("source", "estimated")): Decimal("0.30"),
    }


async def test_top_n_keeps_the_largest_keys_and_projects_and_sums_the_rest_as_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_reports(httpx_mock)
    accounts = [{"top_n": 1}]
    config = config_for(PROVIDER, accounts, env={"ANTHROPIC_ADMIN_KEY": SECRET}, tmp_path=tmp_path)
    samples = await collect_ok(config)
    assert values(samples, catalog.AI_SPEND_BY_API_KEY) == {
        (("api_key", KEY_A), ("source", "estimated")): Decimal("12.15"),
        (("api_key", "other"), ("source", "estimated")): Decimal("5.80"),
    }
    assert values(samples, catalog.AI_SPEND_BY_PROJECT) == {
        (("project", WS_B),): Decimal("121.0001"),
        (("project", "other"),): Decimal("26.2428912") + Decimal("0.478"),
    }


async def test_price_overrides_in_the_config_price_a_model_the_table_lacks(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_reports(httpx_mock)
    accounts = [{"ai_prices": {"claude-nova-9": {"input": 1, "output": 2, "cache_read": 0.5}}}]
    config = config_for(PROVIDER, accounts, env={"ANTHROPIC_ADMIN_KEY": SECRET}, tmp_path=tmp_path)
    samples = await collect_ok(config)
    assert values(samples, catalog.AI_UNPRICED_TOKENS) == {}
    # 100 cache-read tokens x ($1 - $0.50) / 1e6
    assert total(samples, catalog.AI_CACHE_SAVINGS, model="claude-nova-9") == Decimal("0.00005")
    # (1234 x 1 + 100 x 0.5 + 567 x 2) / 1e6
    assert total(samples, catalog.AI_SPEND_BY_API_KEY, api_key=KEY_C) == Decimal("0.002418")


def test_a_price_override_without_an_output_price_is_a_config_error(tmp_path: Path) -> None:
    accounts = [{"ai_prices": {"claude-nova-9": {"input": 1}}}]
    with pytest.raises(ConfigError, match="ai_prices"):
        config_for(PROVIDER, accounts, env={"ANTHROPIC_ADMIN_KEY": SECRET}, tmp_path=tmp_path)


def test_one_hour_cache_writes_cost_twice_the_input_price() -> None:
    price = pricing.ModelPrice(input=Decimal(4), output=Decimal(20))
    tokens = dict.fromkeys(("input", "cache_write_5m", "cached_input", "output"), Decimal(0)) | {
        "cache_write_1h": Decimal(1_000_000)
    }
    assert estimate_usd(tokens, price) == Decimal(8)


# --- empty, null and malformed data ---------------------------------------------


async def test_empty_buckets_give_no_series_rather_than_zeros(httpx_mock: HTTPXMock) -> None:
    empty_day = {
        "starting_at": "2026-11-01T00:00:00Z",
        "ending_at": "2026-11-02T00:00:00Z",
        "results": [],
    }
    page = {"data": [empty_day], "has_more": False, "next_page": None}
    httpx_mock.add_response(url=COST_URL, json=page)
    httpx_mock.add_response(url=USAGE_URL, json=page)
    # Only the price table's date, which the core turns into its age: nothing published.
    assert [s.family for s in await collect_ok(env_config())] == [catalog.AI_PRICE_TABLE_AS_OF]


def test_malformed_rows_and_buckets_are_skipped_and_counted() -> None:
    context = ctx()
    page = {
        "data": [
            {"starting_at": "not a date", "results": []},
            {
                "starting_at": "2026-11-02T00:00:00Z",
                "results": [
                    {"amount": None, "cost_type": "tokens"},
                    {"amount": "n/a", "cost_type": "tokens"},
                    "not a row",
                    {"amount": "250", "cost_type": "tokens"},
                ],
            },
        ]
    }
    rows = parse_cost_page(page, context)
    assert [row.usd for row in rows] == [Decimal("2.5")]
    assert context.skipped_records == 4


def test_usage_rows_with_null_key_and_missing_cache_creation_still_count() -> None:
    context = ctx()
    row = {
        "api_key_id": None,
        "cache_creation": None,
        "cache_read_input_tokens": 7,
        "model": None,
        "output_tokens": 3,
        "uncached_input_tokens": 11,
    }
    bad = {**row, "uncached_input_tokens": "lots"}
    page = {"data": [{"starting_at": "2026-11-02T00:00:00Z", "results": [row, bad]}]}
    [usage] = parse_usage_page(page, context)
    assert (usage.api_key, usage.model) == ("console", "unknown")
    assert usage.tokens["input"] == 11 and usage.tokens["cache_write_1h"] == 0
    assert context.skipped_records == 1


# --- failures ----------------------------------------------------------------------


async def test_401_fails_with_reason_auth_without_the_key_in_the_message(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        url=COST_URL,
        status_code=401,
        json={"type": "error", "error": {"type": "authentication_error"}},
    )
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "auth"
    assert SECRET not in (outcome.error_message or "")
    assert "api.anthropic.com/v1/organizations/cost_report" in (outcome.error_message or "")


async def test_429_with_retry_after_is_retried_and_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=COST_URL, status_code=429, headers={"Retry-After": "1"})
    mock_reports(httpx_mock)
    samples = await collect_ok(env_config())
    assert total(samples, catalog.MONTH_TO_DATE) == Decimal("147.7209912")
    assert len(httpx_mock.get_requests(url=COST_URL)) == 3


async def test_429_that_never_clears_fails_with_reason_rate_limited(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        url=COST_URL, status_code=429, headers={"Retry-After": "0"}, is_reusable=True
    )
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "rate_limited"


async def test_5xx_on_the_usage_report_fails_the_collection_with_http_5xx(
    httpx_mock: HTTPXMock,
) -> None:
    for name in COST_PAGES:
        httpx_mock.add_response(url=COST_URL, json=fixture_json("anthropic", name))
    httpx_mock.add_response(url=USAGE_URL, status_code=503, is_reusable=True)
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "http_5xx"
    assert len(httpx_mock.get_requests(url=USAGE_URL)) == 3


async def test_truncated_json_fails_with_reason_parse(httpx_mock: HTTPXMock) -> None:
    text = json.dumps(fixture_json("anthropic", "cost_report_page1.json"))
    httpx_mock.add_response(url=COST_URL, content=text[: len(text) // 2].encode())
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "parse"


async def test_a_response_without_data_fails_with_reason_parse(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=COST_URL, json={"type": "error", "error": {}})
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "parse"


# --- paging ------------------------------------------------------------------------


def cost_page(**paging: Any) -> dict[str, Any]:
    page = fixture_json("anthropic", "cost_report_page1.json")
    del page["has_more"], page["next_page"]
    return {**page, **paging}


@pytest.mark.parametrize(
    "paging",
    [
        {"has_more": True, "next_page": None},
        {"has_more": True},
        {"has_more": True, "next_page": ""},
    ],
    ids=str,
)
async def test_has_more_without_a_cursor_is_a_parse_error_not_a_short_month(
    httpx_mock: HTTPXMock, paging: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=COST_URL, json=cost_page(**paging))
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "parse"
    assert "has_more` is true but `next_page` is not a cursor" in (outcome.error_message or "")
    assert outcome.samples is None


@pytest.mark.parametrize(
    "paging",
    [
        {"has_more": 1, "next_page": "page_2"},
        {"has_more": True, "next_page": 2},
        {"has_more": True, "next_page": ["page_2"]},
        {"next_page": "page_2"},
    ],
    ids=str,
)
async def test_paging_fields_that_cannot_be_read_are_a_parse_error(
    httpx_mock: HTTPXMock, paging: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=COST_URL, json=cost_page(**paging))
    outcome = await collect_failing(env_config())
    assert outcome.error_reason == "parse"
    assert "unreadable paging" in (outcome.error_message or "")


async def test_a_report_without_paging_fields_is_one_page(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=COST_URL, json=cost_page())
    usage = fixture_json("anthropic", "usage_messages_page1.json")
    del usage["has_more"], usage["next_page"]
    httpx_mock.add_response(url=USAGE_URL, json=usage)
    samples = await collect_ok(env_config())
    # Strict mocks: a request for a second page would fail the test.
    assert total(samples, catalog.PREVIOUS_MONTH) == fixture_cents(
        "cost_report_page1.json", "2026-10"
    )
    assert len(httpx_mock.get_requests()) == 2
