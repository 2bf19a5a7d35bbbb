from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.providers import openai
from cost_exporter.samples import Sample
from tests.helpers import (
    NOW,
    by_day,
    config_for,
    fixture_json,
    fixture_text,
    run_history,
    run_provider,
    total,
    values,
)

KEY = "sk-admin-test-9f8e7d6c5b4a"
BASE = "https://api.openai.com/v1"
COSTS = f"{BASE}/organization/costs"
USAGE = f"{BASE}/organization/usage/completions"
NOV_1 = 1793491200  # 2026-11-01T00:00Z, start of NOW's month
OCT_1 = 1790812800  # 2026-10-01T00:00Z
CURRENT = {
    "bucket_width": "1d",
    "start_time": str(NOV_1),
    "group_by": ["line_item", "project_id", "api_key_id"],
    "limit": "180",
}
PREVIOUS = {
    "bucket_width": "1d",
    "start_time": str(OCT_1),
    "end_time": str(NOV_1),
    "group_by": "line_item",
    "limit": "180",
}
TOKENS = {"bucket_width": "1d", "start_time": str(NOV_1), "group_by": "model", "limit": "31"}
PAGE_2 = "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="
USAGE_PAGE_2 = "page_AAAAAGdHDvEiJdKOAAAAAGcr_IA="


def mock_api(httpx_mock: HTTPXMock, base: str = BASE) -> None:
    costs, usage = f"{base}/organization/costs", f"{base}/organization/usage/completions"
    page1, page2 = (
        fixture_json("openai", "costs_current_page1.json"),
        fixture_json("openai", "costs_current_page2.json"),
    )
    httpx_mock.add_response(url=costs, match_params=CURRENT, json=page1)
    httpx_mock.add_response(url=costs, match_params={**CURRENT, "page": PAGE_2}, json=page2)
    previous = fixture_json("openai", "costs_previous.json")
    httpx_mock.add_response(url=costs, match_params=PREVIOUS, json=previous)
    usage1 = fixture_json("openai", "usage_completions_page1.json")
    usage2 = fixture_json("openai", "usage_completions_page2.json")
    httpx_mock.add_response(url=usage, match_params=TOKENS, json=usage1)
    httpx_mock.add_response(url=usage, match_params={**TOKENS, "page": USAGE_PAGE_2}, json=usage2)


async def collect(
    tmp_path: Path, account: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> tuple[Sample, ...]:
    env = {"OPENAI_ADMIN_KEY": KEY, **(env or {})}
    accounts = None if account is None else [account]
    config = config_for(openai.PROVIDER, accounts, env=env, tmp_path=tmp_path)
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    return outcome.samples or ()


def fixture_amounts(*names: str) -> Decimal:
    """Sum every amount.value of the fixture files, parsed as the exact decimals they spell."""
    found = Decimal(0)
    for name in names:
        for bucket in fixture_json("openai", name)["data"]:
            for result in bucket["results"]:
                found += Decimal(str(result["amount"]["value"]))
    return found


def label_values(samples: tuple[Sample, ...], family: catalog.Family, label: str) -> set[str]:
    return {s.label(label) or "" for s in samples if s.family is family}


async def test_month_to_date_reconciles_with_the_cost_report_to_the_cent(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    expected = fixture_amounts("costs_current_page1.json", "costs_current_page2.json")
    # 1.234567 + 0.987654 + 0.5 + 2.25 + 3.10 + 0.06 + 0.765433 + 0.04 + 0.01
    assert expected == Decimal("8.947654")
    assert total(samples, catalog.MONTH_TO_DATE) == expected
    assert total(samples, catalog.AI_SPEND_BY_PROJECT) == expected
    assert total(samples, catalog.AI_SPEND_BY_API_KEY) == expected
    assert total(samples, catalog.MONTH_TO_DATE).quantize(Decimal("0.01")) == Decimal("8.95")
    assert {s.currency for s in samples if s.family.money} == {"USD"}
    assert label_values(samples, catalog.MONTH_TO_DATE, "source") == {"api"}
    assert label_values(samples, catalog.MONTH_TO_DATE, "charge_frequency") == {"usage_based"}
    assert label_values(samples, catalog.AI_SPEND_BY_API_KEY, "source") == {"api"}


async def test_spend_is_split_by_line_item_over_every_page(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    by_item = {
        s.label("service_name"): s.value for s in samples if s.family is catalog.MONTH_TO_DATE
    }
    assert by_item == {
        "gpt-4o-mini-2024-07-18, input": Decimal("2.000000"),
        "gpt-4o-mini-2024-07-18, output": Decimal("0.987654"),
        "gpt-4o-mini-2024-07-18, cached input": Decimal("0.01"),
        "gpt-4o-2024-08-06, input": Decimal("2.29"),
        "gpt-4o-2024-08-06, output": Decimal("3.10"),
        "web search tool calls": Decimal("0.5"),
        "unknown": Decimal("0.06"),
    }


async def test_previous_month_comes_from_its_own_closed_window(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    assert total(samples, catalog.PREVIOUS_MONTH) == fixture_amounts("costs_previous.json")
    assert total(samples, catalog.PREVIOUS_MONTH) == Decimal("36.25")
    assert total(
        samples, catalog.PREVIOUS_MONTH, service_name="gpt-4o-2024-08-06, output"
    ) == Decimal("20.25")


async def test_null_dimensions_become_unknown_instead_of_failing(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    assert total(samples, catalog.AI_SPEND_BY_PROJECT, project="unknown") == Decimal("0.06")
    assert total(samples, catalog.AI_SPEND_BY_API_KEY, api_key="unknown") == Decimal("0.06")
    assert total(samples, catalog.AI_TOKENS, model="unknown") == Decimal(400)


async def test_projects_and_keys_beyond_top_n_are_summed_into_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    account = {
        "top_n": 2,
        "project_names": {"proj_xyz789": "search", "proj_abc123": "chatbot"},
        "api_key_names": {"key_CCCC3333": "search-prod"},
    }
    samples = await collect(tmp_path, account)
    projects = {
        s.label("project"): s.value for s in samples if s.family is catalog.AI_SPEND_BY_PROJECT
    }
    # proj_def456 (0.04) and the unattributed 0.06 fall outside the top 2
    assert projects == {
        "search": Decimal("5.35"),
        "chatbot": Decimal("3.497654"),
        "other": Decimal("0.10"),
    }
    keys = {s.label("api_key"): s.value for s in samples if s.family is catalog.AI_SPEND_BY_API_KEY}
    assert keys == {
        "search-prod": Decimal("5.35"),
        "key_AAAA1111": Decimal("2.997654"),
        "other": Decimal("0.60"),
    }


async def test_tokens_are_split_into_types_that_never_overlap(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    tokens = values(samples, catalog.AI_TOKENS)

    def of(model: str, token_type: str) -> Decimal:
        return tokens[(("model", model), ("token_type", token_type))]

    mini = "gpt-4o-mini-2024-07-18"
    # input_tokens 2,000,000 + 1,500,000 include 800,000 + 400,000 cached
    assert of(mini, "input") == Decimal(2_300_000)
    assert of(mini, "cached_input") == Decimal(1_200_000)
    assert of(mini, "output") == Decimal(500_000)
    assert (("model", mini), ("token_type", "cache_write")) not in tokens  # never reported
    # the spec example: 1000 input = 400 cached + 100 cache-write + 500 uncached
    assert of("gpt-4o-2024-08-06", "input") == Decimal(500)
    assert of("gpt-4o-2024-08-06", "cache_write") == Decimal(100)
    assert total(samples, catalog.AI_TOKENS, model="gpt-4o-2024-08-06") == Decimal(1000 + 500)
    assert total(samples, catalog.AI_REQUESTS, model=mini) == Decimal(200)


async def test_cache_savings_equal_the_hand_computed_value_from_the_price_table(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    savings = {s.label("model"): s.value for s in samples if s.family is catalog.AI_CACHE_SAVINGS}
    # gpt-4o-mini: input $0.15/M, cache read $0.075/M; 1,200,000 cached tokens
    # 1,200,000 x (0.15 - 0.075) / 1,000,000 = 1.2 x 0.075 = $0.09
    assert savings["gpt-4o-mini-2024-07-18"] == Decimal("0.09")
    # gpt-4o: input $2.50/M, cache read $1.25/M; 400 cached tokens
    # 400 x (2.50 - 1.25) / 1,000,000 = $0.0005
    assert savings["gpt-4o-2024-08-06"] == Decimal("0.0005")
    assert set(savings) == {"gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"}


async def test_an_unknown_model_is_counted_as_unpriced_never_priced_at_zero(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    fine_tuned = "ft:gpt-4o-mini-2024-07-18:acme::AbC123xy"
    unpriced = {
        s.label("model"): s.value for s in samples if s.family is catalog.AI_UNPRICED_TOKENS
    }
    assert unpriced == {fine_tuned: Decimal(60_000), "unknown": Decimal(400)}
    priced = label_values(samples, catalog.AI_SPEND_BY_MODEL, "model")
    priced |= label_values(samples, catalog.AI_CACHE_SAVINGS, "model")
    assert fine_tuned not in priced and "unknown" not in priced


async def test_spend_by_model_is_an_estimate_from_tokens_and_prices(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    by_model = {s.label("model"): s.value for s in samples if s.family is catalog.AI_SPEND_BY_MODEL}
    # 2.3M x 0.15 + 1.2M x 0.075 + 0.5M x 0.60 = 0.345 + 0.09 + 0.30
    assert by_model["gpt-4o-mini-2024-07-18"] == Decimal("0.735")
    # 500 x 2.50 + 400 x 1.25 + 100 x 2.50 (no cache-write price: input price) + 500 x 10.00
    assert by_model["gpt-4o-2024-08-06"] == Decimal("0.007")
    assert label_values(samples, catalog.AI_SPEND_BY_MODEL, "source") == {"estimated"}


async def test_a_price_override_in_the_config_prices_a_fine_tuned_model(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    override = {"ft:gpt-4o-mini": {"input": "0.30", "output": "1.20"}}
    samples = await collect(tmp_path, {"ai_prices": override})
    fine_tuned = "ft:gpt-4o-mini-2024-07-18:acme::AbC123xy"
    # 50,000 x 0.30 + 10,000 x 1.20 = 15,000 + 12,000 per million
    assert total(samples, catalog.AI_SPEND_BY_MODEL, model=fine_tuned) == Decimal("0.027")
    assert label_values(samples, catalog.AI_UNPRICED_TOKENS, "model") == {"unknown"}
    # no cache-read price: the saving is unknown, so no series rather than a 0
    assert fine_tuned not in label_values(samples, catalog.AI_CACHE_SAVINGS, "model")


async def test_requests_carry_the_admin_key_and_honour_the_base_url(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    base = "http://openai-proxy.internal:8080/v1"
    mock_api(httpx_mock, base)
    await collect(tmp_path, env={"OPENAI_BASE_URL": base + "/"})
    requests = httpx_mock.get_requests()
    assert len(requests) == 5
    assert {r.headers["Authorization"] for r in requests} == {f"Bearer {KEY}"}


async def test_401_fails_with_reason_auth_and_never_shows_the_key(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=401, json={"error": {"message": f"bad key {KEY}"}})
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.error_reason == "auth"
    assert KEY not in (outcome.error_message or "")
    assert "api.openai.com/v1/organization/costs" in (outcome.error_message or "")
    assert len(httpx_mock.get_requests()) == 1


async def test_429_with_retry_after_is_retried_and_then_succeeds(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(
        url=COSTS, match_params=CURRENT, status_code=429, headers={"Retry-After": "0"}
    )
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    assert total(samples, catalog.MONTH_TO_DATE) == Decimal("8.947654")
    assert len(httpx_mock.get_requests()) == 6


async def test_429_that_never_clears_fails_with_reason_rate_limited(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "0"}, is_reusable=True)
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.error_reason == "rate_limited"


async def test_a_lasting_5xx_fails_with_reason_http_5xx(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert not outcome.ok
    assert outcome.error_reason == "http_5xx"
    assert len(httpx_mock.get_requests()) == 3


async def test_truncated_json_fails_with_reason_parse(httpx_mock: HTTPXMock) -> None:
    text = fixture_text("openai", "costs_current_page1.json")
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, text=text[: len(text) // 2])
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"


async def test_a_page_without_buckets_fails_with_reason_parse(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, json={"error": "nope"})
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"


async def test_malformed_records_are_skipped_and_the_rest_still_counts(
    httpx_mock: HTTPXMock,
) -> None:
    good = fixture_json("openai", "costs_current_page2.json")
    results = good["data"][1]["results"]
    results.append({**results[0], "amount": {"value": None, "currency": "usd"}})
    results.append({**results[0], "amount": {"value": "n/a", "currency": "usd"}})
    good["data"].append("not a bucket")
    usage = fixture_json("openai", "usage_completions_page2.json")
    usage["data"][0]["results"].append({"object": "x", "input_tokens": 5, "model": "gpt-4o"})
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, json=good)
    httpx_mock.add_response(
        url=COSTS, match_params=PREVIOUS, json=fixture_json("openai", "costs_previous.json")
    )
    httpx_mock.add_response(url=USAGE, match_params=TOKENS, json=usage)
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.ok
    assert outcome.skipped_records == 4
    assert total(outcome.samples or (), catalog.MONTH_TO_DATE) == Decimal("0.05")
    assert "gpt-4o" not in label_values(outcome.samples or (), catalog.AI_TOKENS, "model")


async def test_a_month_with_only_empty_buckets_exports_no_spend_series(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    empty = {
        "object": "page",
        "data": [
            {"object": "bucket", "start_time": NOV_1, "end_time": NOV_1 + 86400, "results": []}
        ],
        "has_more": False,
        "next_page": None,
    }
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, json=empty)
    httpx_mock.add_response(url=COSTS, match_params=PREVIOUS, json=empty)
    httpx_mock.add_response(url=USAGE, match_params=TOKENS, json=empty)
    samples = await collect(tmp_path)
    # Only the price table's date, which the core turns into its age: nothing published.
    assert [s.family for s in samples] == [catalog.AI_PRICE_TABLE_AS_OF]


async def test_daily_spend_comes_from_the_day_buckets_and_adds_up_to_each_month(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_api(httpx_mock)
    samples = await collect(tmp_path)
    daily = by_day(samples)
    # The bucket of the 3rd has no result: no spend, no sample (never a 0 for unknown).
    assert sorted(daily) == ["2026-10-01", "2026-10-02", "2026-11-01", "2026-11-02", "2026-11-04"]
    november = sum(v for day, v in daily.items() if day.startswith("2026-11"))
    october = sum(v for day, v in daily.items() if day.startswith("2026-10"))
    assert november == total(samples, catalog.MONTH_TO_DATE) == Decimal("8.947654")
    assert october == total(samples, catalog.PREVIOUS_MONTH) == Decimal("36.25")


async def test_history_walks_the_costs_in_pages_of_180_day_buckets_by_line_item(
    httpx_mock: HTTPXMock,
) -> None:
    start, end = datetime(2025, 11, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    window = {
        "bucket_width": "1d",
        "start_time": str(int(start.timestamp())),
        "end_time": str(int(end.timestamp())),
        "group_by": "line_item",
        "limit": "180",
    }
    first = {**fixture_json("openai", "costs_previous.json"), "has_more": True, "next_page": "p2"}
    httpx_mock.add_response(url=COSTS, match_params=window, json=first)
    second = fixture_json("openai", "costs_current_page2.json")
    httpx_mock.add_response(url=COSTS, match_params={**window, "page": "p2"}, json=second)
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    samples = await run_history(openai.PROVIDER, config, start, end)
    assert by_day(samples) == {
        "2026-10-01": Decimal("30.75"),
        "2026-10-02": Decimal("5.5"),
        "2026-11-04": fixture_amounts("costs_current_page2.json"),
    }
    per_service = values(samples, catalog.DAILY_SERVICE_SPEND)
    assert sum(per_service.values()) == Decimal("36.25") + fixture_amounts(
        "costs_current_page2.json"
    )
    assert {dict(k)["source"] for k in per_service} == {"api"}


def test_the_spec_example_usage_row_parses_to_uncached_input() -> None:
    row = fixture_json("openai", "usage_completions_page1.json")["data"][0]["results"][1]
    model, tokens = openai.parse_tokens(row)
    assert model == "gpt-4o-2024-08-06"
    assert tokens.input == Decimal(row["input_uncached_tokens"])
    assert tokens.total == Decimal(row["input_tokens"] + row["output_tokens"])


def test_an_amount_as_string_and_as_number_parse_to_the_same_money() -> None:
    row = {"object": "organization.costs.result", "line_item": None, "project_id": None}
    as_number = openai.parse_cost({**row, "amount": {"value": 0.1, "currency": "usd"}})
    as_string = openai.parse_cost({**row, "amount": {"value": "0.1", "currency": "usd"}})
    assert as_number.amount == as_string.amount
    assert as_number.amount.amount == Decimal("0.1")
    assert as_number.amount.currency == "USD"
    assert as_number.api_key == "unknown"


def test_fixtures_are_valid_json_shaped_like_the_reference() -> None:
    for path in Path(__file__).parents[1].joinpath("fixtures", "openai").glob("*.json"):
        page = json.loads(path.read_text())
        assert page["object"] == "page", path.name
        assert {"data", "has_more", "next_page"} <= set(page), path.name


# --- paging -----------------------------------------------------------------------

CURSORLESS = [
    {"has_more": True, "next_page": None},
    {"has_more": True},
    {"has_more": True, "next_page": ""},
]
UNREADABLE = [
    {"has_more": "yes", "next_page": PAGE_2},
    {"has_more": True, "next_page": 42},
    {"has_more": True, "next_page": {"after": PAGE_2}},
    {"has_more": None, "next_page": PAGE_2},
]


def first_page(**paging: Any) -> dict[str, Any]:
    page = fixture_json("openai", "costs_current_page1.json")
    del page["has_more"], page["next_page"]
    return {**page, **paging}


@pytest.mark.parametrize("paging", CURSORLESS, ids=str)
async def test_has_more_without_a_cursor_is_a_parse_error_not_a_short_month(
    httpx_mock: HTTPXMock, paging: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, json=first_page(**paging))
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"
    assert "has_more` is true but `next_page` is not a cursor" in (outcome.error_message or "")
    assert outcome.samples is None  # the last good values stay


@pytest.mark.parametrize("paging", UNREADABLE, ids=str)
async def test_paging_fields_that_cannot_be_read_are_a_parse_error(
    httpx_mock: HTTPXMock, paging: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, json=first_page(**paging))
    config = config_for(openai.PROVIDER, env={"OPENAI_ADMIN_KEY": KEY})
    [outcome] = await run_provider(openai.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"
    assert "unreadable paging" in (outcome.error_message or "")


async def test_a_page_without_paging_fields_is_the_only_page(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=COSTS, match_params=CURRENT, json=first_page())
    previous = fixture_json("openai", "costs_previous.json")
    httpx_mock.add_response(url=COSTS, match_params=PREVIOUS, json=previous)
    usage = fixture_json("openai", "usage_completions_page1.json")
    del usage["has_more"], usage["next_page"]
    httpx_mock.add_response(url=USAGE, match_params=TOKENS, json=usage)
    samples = await collect(tmp_path)
    # Strict mocks: a request for a second page would fail the test.
    assert total(samples, catalog.MONTH_TO_DATE) == fixture_amounts("costs_current_page1.json")
