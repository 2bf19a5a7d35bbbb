from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.breakdowns import OTHER
from cost_exporter.errors import CollectorError
from cost_exporter.health import Outcome
from cost_exporter.providers import openrouter
from cost_exporter.providers.base import Context
from cost_exporter.samples import Sample
from tests.helpers import (
    NOW,
    by_day,
    config_for,
    fast_http,
    fixture_json,
    run_history,
    run_provider,
    total,
    values,
)

SECRET = "sk-or-v1-management-0123456789abcdef"
BASE = "https://openrouter.ai/api/v1"
ENV = {"OPENROUTER_API_KEY": SECRET}
CREDITS, ACTIVITY, KEYS = f"{BASE}/credits", f"{BASE}/activity", f"{BASE}/keys"
WORKSPACES = f"{BASE}/workspaces"
DEC_1 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
# workspaces.json: the default workspace (the one `/keys` lists without workspace_id) and
# a second one, "Research", whose keys only `/keys?workspace_id=...` lists.
DEFAULT_WS = "0df9e665-d932-5740-b2c7-b52af166bc11"
RESEARCH_WS = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
DEFAULT_KEYS = ("keys_page1.json", "keys_page2.json", "keys_empty.json")
RESEARCH_KEYS = ("keys_research.json", "keys_empty.json")


def keys_url(offset: int, workspace: str | None = None) -> httpx.URL:
    params: dict[str, Any] = {"include_disabled": "true", "offset": offset}
    if workspace is not None:
        params["workspace_id"] = workspace
    return httpx.URL(KEYS, params=params)


def workspaces_url(offset: int = 0) -> httpx.URL:
    return httpx.URL(WORKSPACES, params={"offset": offset, "limit": 100})


def mock_keys(httpx_mock: HTTPXMock, pages: Sequence[str], workspace: str | None = None) -> None:
    offset = 0
    for page in pages:
        body = fixture_json("openrouter", page)
        httpx_mock.add_response(url=keys_url(offset, workspace), json=body)
        offset += len(body["data"])


def mock_account(
    httpx_mock: HTTPXMock,
    activity: str = "activity.json",
    key_pages: Sequence[str] = DEFAULT_KEYS,
    research_keys: Sequence[str] = RESEARCH_KEYS,
) -> None:
    """The account as OpenRouter answers it: two workspaces; the keys `/keys` lists without
    workspace_id name the default one, which is then not listed again."""
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", activity))
    httpx_mock.add_response(
        url=workspaces_url(), json=fixture_json("openrouter", "workspaces.json")
    )
    mock_keys(httpx_mock, key_pages)
    default_keys = [k for page in key_pages for k in fixture_json("openrouter", page)["data"]]
    if not default_keys:  # nothing showed the default workspace's id: it is listed by id
        mock_keys(httpx_mock, key_pages, DEFAULT_WS)
    mock_keys(httpx_mock, research_keys, RESEARCH_WS)


async def collect(now: datetime = NOW, **account: Any) -> Outcome:
    if account:
        tmp_path = account.pop("tmp_path")
        accounts = [{"api_key_env": "OPENROUTER_API_KEY", **account}]
        config = config_for(openrouter.PROVIDER, accounts, ENV, tmp_path=tmp_path)
    else:
        config = config_for(openrouter.PROVIDER, env=ENV)
    [outcome] = await run_provider(openrouter.PROVIDER, config, now)
    return outcome


def samples_of(outcome: Outcome) -> tuple[Sample, ...]:
    assert outcome.ok, outcome.error_message
    return outcome.samples or ()


def activity_sum(month: str, fixture: str = "activity.json") -> Decimal:
    """The fixture's own figure, computed independently of the provider code."""
    rows = fixture_json("openrouter", fixture)["data"]
    return sum((Decimal(str(r["usage"])) for r in rows if r["date"].startswith(month)), Decimal(0))


def ctx() -> Context:
    return Context(http=fast_http(), now=NOW)


# --- the happy path -------------------------------------------------------------


async def test_every_request_carries_the_management_key_as_bearer(httpx_mock: HTTPXMock) -> None:
    mock_account(httpx_mock)
    samples_of(await collect())
    requests = httpx_mock.get_requests()
    assert [r.url.path for r in requests] == [
        "/api/v1/credits",
        "/api/v1/activity",
        "/api/v1/workspaces",
    ] + ["/api/v1/keys"] * 5
    assert {r.headers["Authorization"] for r in requests} == {f"Bearer {SECRET}"}


async def test_credit_balance_is_total_credits_minus_total_usage(httpx_mock: HTTPXMock) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    [balance] = [s for s in samples if s.family is catalog.CREDIT_BALANCE]
    assert balance.value == Decimal("74.75")
    assert balance.currency == "USD"
    assert balance.labels == ()


async def test_month_to_date_reconciles_with_the_activity_fixture_to_the_cent(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    assert values(samples, catalog.MONTH_TO_DATE) == {
        (
            ("charge_frequency", "usage_based"),
            ("service_name", "Inference"),
            ("source", "api"),
        ): Decimal("7.645")
    }
    assert total(samples, catalog.MONTH_TO_DATE) == activity_sum("2026-11")


async def test_spend_by_model_sums_to_month_to_date_for_the_same_days(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    by_model = {dict(k)["model"]: v for k, v in values(samples, catalog.AI_SPEND_BY_MODEL).items()}
    # Several provider endpoints of one model on one day add up; October stays out.
    assert by_model == {
        "openai/gpt-4.1": Decimal("3.6327"),
        "anthropic/claude-sonnet-4.5": Decimal("4.0"),
        "deepseek/deepseek-r1-0528": Decimal("0.0123"),
    }
    assert total(samples, catalog.AI_SPEND_BY_MODEL) == total(samples, catalog.MONTH_TO_DATE)
    assert {s.label("source") for s in samples if s.family is catalog.AI_SPEND_BY_MODEL} == {"api"}


async def test_tokens_and_requests_are_summed_per_model_for_this_month(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    tokens = values(samples, catalog.AI_TOKENS)
    assert tokens[(("model", "openai/gpt-4.1"), ("token_type", "input"))] == 49300
    assert tokens[(("model", "openai/gpt-4.1"), ("token_type", "output"))] == 9600
    assert tokens[(("model", "anthropic/claude-sonnet-4.5"), ("token_type", "input"))] == 58000
    # Reasoning tokens are part of completion tokens: no extra type, no double count.
    assert {dict(k)["token_type"] for k in tokens} == {"input", "output"}
    requests = values(samples, catalog.AI_REQUESTS)
    assert requests == {
        (("model", "openai/gpt-4.1"),): 26,
        (("model", "anthropic/claude-sonnet-4.5"),): 15,
        (("model", "deepseek/deepseek-r1-0528"),): 7,
    }


async def test_an_unknown_model_keeps_its_reported_spend_and_nothing_is_estimated(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    spend = values(samples, catalog.AI_SPEND_BY_MODEL)
    assert spend[(("model", "deepseek/deepseek-r1-0528"), ("source", "api"))] == Decimal("0.0123")
    estimated = {catalog.AI_CACHE_SAVINGS, catalog.AI_UNPRICED_TOKENS}
    assert not [s for s in samples if s.family in estimated or s.label("source") == "estimated"]


# --- months and the 30-day window --------------------------------------------------


async def test_previous_month_is_left_out_when_the_window_misses_part_of_it(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    # On 23 Nov the window starts on 24 Oct: October's figure would be partial.
    assert values(samples, catalog.PREVIOUS_MONTH) == {}


async def test_on_the_first_the_previous_month_is_whole_and_this_month_is_left_out(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock, activity="activity_december_1st.json")
    samples = samples_of(await collect(DEC_1))
    november = activity_sum("2026-11", "activity_december_1st.json")
    assert november == Decimal("8.000")
    assert values(samples, catalog.PREVIOUS_MONTH) == {
        (
            ("charge_frequency", "usage_based"),
            ("service_name", "Inference"),
            ("source", "api"),
        ): november
    }
    # No day of December has completed: unknown, so no series rather than a 0.
    for family in (catalog.MONTH_TO_DATE, catalog.AI_SPEND_BY_MODEL, catalog.AI_TOKENS):
        assert values(samples, family) == {}


async def test_previous_month_is_left_out_while_its_last_day_is_not_in_the_report(
    httpx_mock: HTTPXMock,
) -> None:
    # On 1 December the fixture ends on 22 November: the 30th may be unprocessed.
    mock_account(httpx_mock)
    samples = samples_of(await collect(DEC_1))
    assert values(samples, catalog.PREVIOUS_MONTH) == {}


async def test_daily_spend_is_the_activity_per_day_and_adds_up_to_the_month_to_date(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    daily = by_day(samples)
    rows = fixture_json("openrouter", "activity.json")["data"]
    assert sorted(daily) == sorted({r["date"] for r in rows})
    november = sum(v for day, v in daily.items() if day.startswith("2026-11"))
    assert november == total(samples, catalog.MONTH_TO_DATE) == activity_sum("2026-11")
    # October's days count for cost_last_day even though its month is left out.
    assert daily["2026-10-31"] == Decimal("0.875")


async def test_history_is_the_30_day_activity_window_per_day(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity.json"))
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    config = config_for(openrouter.PROVIDER, env=ENV)
    samples = await run_history(openrouter.PROVIDER, config, start, end)
    assert openrouter.PROVIDER.history_days == 30
    assert sum(by_day(samples).values()) == activity_sum("2026-11")
    assert {
        (dict(k)["service_name"], dict(k)["source"])
        for k in values(samples, catalog.DAILY_SERVICE_SPEND)
    } == {("Inference", "api")}


def test_the_window_covers_a_month_only_when_it_reaches_back_to_its_first_day() -> None:
    assert openrouter.covers(datetime(2026, 11, 1).date(), DEC_1.date())
    assert not openrouter.covers(datetime(2026, 10, 1).date(), datetime(2026, 11, 1).date())
    assert not openrouter.covers(datetime(2026, 10, 1).date(), NOW.date())


async def test_an_idle_month_reports_zero_spend_and_no_model_series(
    httpx_mock: HTTPXMock,
) -> None:
    empty = ["keys_empty.json"]
    mock_account(httpx_mock, "activity_empty.json", key_pages=empty, research_keys=empty)
    samples = samples_of(await collect())
    assert total(samples, catalog.MONTH_TO_DATE) == 0
    assert len(values(samples, catalog.MONTH_TO_DATE)) == 1
    for family in (catalog.AI_SPEND_BY_MODEL, catalog.AI_TOKENS, catalog.AI_SPEND_BY_API_KEY):
        assert values(samples, family) == {}
    assert total(samples, catalog.CREDIT_BALANCE) == Decimal("74.75")


# --- null fields and amounts -------------------------------------------------------


async def test_null_fields_are_unknown_model_skipped_rows_and_missing_counts(
    httpx_mock: HTTPXMock,
) -> None:
    empty = ["keys_empty.json"]
    mock_account(httpx_mock, "activity_nulls.json", key_pages=empty, research_keys=empty)
    outcome = await collect()
    samples = samples_of(outcome)
    assert outcome.skipped_records == 1  # the row whose usage is null
    assert total(samples, catalog.MONTH_TO_DATE) == Decimal("0.75")
    spend = {dict(k)["model"]: v for k, v in values(samples, catalog.AI_SPEND_BY_MODEL).items()}
    assert spend == {"unknown": Decimal("0.5"), "openai/gpt-4.1": Decimal("0.25")}
    tokens = values(samples, catalog.AI_TOKENS)
    # gpt-4.1's only readable row has no prompt count: no input series, not a 0.
    assert (("model", "openai/gpt-4.1"), ("token_type", "input")) not in tokens
    assert tokens[(("model", "openai/gpt-4.1"), ("token_type", "output"))] == 50
    assert values(samples, catalog.AI_REQUESTS) == {(("model", "unknown"),): 2}


def test_amounts_are_read_as_numbers_and_as_strings_exactly() -> None:
    rows = [
        {"date": "2026-11-01", "model": "m", "usage": 0.1, "requests": "3"},
        {"date": "2026-11-02", "model": "m", "usage": "0.2", "requests": 4},
    ]
    [month] = openrouter.activity_by_month(rows, ctx()).values()
    assert month.spend == {"m": Decimal("0.3")}
    assert month.requests == {"m": Decimal(7)}


def test_a_credits_answer_without_totals_is_a_parse_error() -> None:
    with pytest.raises(CollectorError) as caught:
        openrouter.credit_balance({"total_credits": None, "total_usage": 1})
    assert caught.value.reason == "parse"


def test_activity_whose_data_is_not_a_list_is_a_parse_error() -> None:
    with pytest.raises(CollectorError) as caught:
        openrouter.activity_by_month({"date": "2026-11-01"}, ctx())
    assert caught.value.reason == "parse"


# --- keys ------------------------------------------------------------------------


async def test_key_spend_is_read_across_offset_pages_and_labelled_by_name(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    by_key = {
        dict(k)["api_key"]: v for k, v in values(samples, catalog.AI_SPEND_BY_API_KEY).items()
    }
    assert by_key == {
        "prod-backend": Decimal("5.2"),
        "staging": Decimal("1.05"),
        "leaked-laptop": Decimal("1.4"),  # disabled keys still spent this month
        "ci": Decimal("0.03"),
        "unnamed": Decimal(0),
        "research-agent": Decimal("2.75"),  # the Research workspace
        "eval-runner": Decimal("0.5"),
    }
    page1 = fixture_json("openrouter", "keys_page1.json")["data"]
    sensitive = {k["label"] for k in page1} | {k["hash"] for k in page1}
    assert not sensitive & set(by_key)


async def test_keys_beyond_top_n_are_summed_into_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_account(httpx_mock)
    samples = samples_of(await collect(top_n=2, tmp_path=tmp_path))
    by_key = {
        dict(k)["api_key"]: v for k, v in values(samples, catalog.AI_SPEND_BY_API_KEY).items()
    }
    assert by_key == {
        "prod-backend": Decimal("5.2"),
        "research-agent": Decimal("2.75"),
        OTHER: Decimal("2.98"),
    }
    assert total(samples, catalog.AI_SPEND_BY_API_KEY) == Decimal("10.93")


async def test_a_server_that_ignores_offset_does_not_double_count_keys(
    httpx_mock: HTTPXMock,
) -> None:
    page = fixture_json("openrouter", "keys_page1.json")
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity_empty.json"))
    httpx_mock.add_response(url=workspaces_url(), json={"data": [], "total_count": 0})
    httpx_mock.add_response(url=keys_url(0), json=page)
    httpx_mock.add_response(url=keys_url(3), json=page)
    samples = samples_of(await collect())
    assert total(samples, catalog.AI_SPEND_BY_API_KEY) == Decimal("7.65")


# --- workspaces ------------------------------------------------------------------------


def key_names(samples: Sequence[Sample]) -> dict[str, Decimal]:
    return {dict(k)["api_key"]: v for k, v in values(samples, catalog.AI_SPEND_BY_API_KEY).items()}


async def workspace_ids() -> list[str]:
    [entry] = config_for(openrouter.PROVIDER, env=ENV).accounts
    assert isinstance(entry.config, openrouter.Config)
    http = fast_http()
    try:
        return await openrouter.fetch_workspaces(entry.config, Context(http=http, now=NOW))
    finally:
        await http.aclose()


async def test_keys_in_a_second_workspace_are_counted_not_only_the_default_ones(
    httpx_mock: HTTPXMock,
) -> None:
    mock_account(httpx_mock)
    by_key = key_names(samples_of(await collect()))
    research = fixture_json("openrouter", "keys_research.json")["data"]
    assert {k["workspace_id"] for k in research} == {RESEARCH_WS}
    assert by_key["research-agent"] == Decimal("2.75")
    assert by_key["eval-runner"] == Decimal("0.5")
    assert sum(by_key.values()) == Decimal("7.68") + Decimal("3.25")
    keys = [r for r in httpx_mock.get_requests() if r.url.path.endswith("/keys")]
    listed = {r.url.params.get("workspace_id") for r in keys}
    # The default workspace's keys came without workspace_id and named it: not asked twice.
    assert listed == {None, RESEARCH_WS}


async def test_a_key_listed_again_with_its_workspace_id_counts_once(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity_empty.json"))
    listed = fixture_json("openrouter", "workspaces.json")
    listed["data"], listed["total_count"] = listed["data"][:1], 1  # the default one only
    httpx_mock.add_response(url=workspaces_url(), json=listed)
    page = fixture_json("openrouter", "keys_page1.json")
    for key in page["data"]:
        del key["workspace_id"]  # the listing does not say which workspace it showed
    for workspace in (None, DEFAULT_WS):
        httpx_mock.add_response(url=keys_url(0, workspace), json=page)
        httpx_mock.add_response(url=keys_url(3, workspace), json={"data": []})
    samples = samples_of(await collect())
    assert total(samples, catalog.AI_SPEND_BY_API_KEY) == Decimal("7.65")


async def test_keys_are_listed_per_workspace_and_each_listing_pages_by_offset(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity_empty.json"))
    listed = fixture_json("openrouter", "workspaces.json")
    listed["data"] = listed["data"][1:]  # only Research: the default one is not listed
    listed["total_count"] = 1
    httpx_mock.add_response(url=workspaces_url(), json=listed)
    mock_keys(httpx_mock, DEFAULT_KEYS)
    [agent, runner] = fixture_json("openrouter", "keys_research.json")["data"]
    httpx_mock.add_response(url=keys_url(0, RESEARCH_WS), json={"data": [agent]})
    httpx_mock.add_response(url=keys_url(1, RESEARCH_WS), json={"data": [runner]})
    httpx_mock.add_response(url=keys_url(2, RESEARCH_WS), json={"data": []})
    by_key = key_names(samples_of(await collect()))
    assert set(by_key) == {
        "prod-backend",
        "staging",
        "leaked-laptop",
        "ci",
        "unnamed",
        "research-agent",
        "eval-runner",
    }
    asked = [
        (r.url.params.get("workspace_id"), r.url.params["offset"])
        for r in httpx_mock.get_requests()
        if r.url.path.endswith("/keys")
    ]
    default = [(None, "0"), (None, "3"), (None, "5")]
    assert asked == [*default, (RESEARCH_WS, "0"), (RESEARCH_WS, "1"), (RESEARCH_WS, "2")]


async def test_workspaces_are_paged_by_offset_until_total_count(httpx_mock: HTTPXMock) -> None:
    [default, research] = fixture_json("openrouter", "workspaces.json")["data"]
    third = {**research, "id": "2f1e0d9c-8b7a-4f6e-9d4c-3b2a1f0e9d8c", "slug": "ops"}
    # The server gives fewer than the `limit` asked for: total_count says more follow.
    page1 = {"data": [default, research], "total_count": 3}
    httpx_mock.add_response(url=workspaces_url(0), json=page1)
    httpx_mock.add_response(url=workspaces_url(2), json={"data": [third], "total_count": 3})
    ids = await workspace_ids()
    assert ids == [DEFAULT_WS, RESEARCH_WS, third["id"]]


async def test_workspaces_without_a_total_count_are_read_until_an_empty_page(
    httpx_mock: HTTPXMock,
) -> None:
    [default, research] = fixture_json("openrouter", "workspaces.json")["data"]
    httpx_mock.add_response(url=workspaces_url(0), json={"data": [default, research]})
    httpx_mock.add_response(url=workspaces_url(2), json={"data": []})
    ids = await workspace_ids()
    assert ids == [DEFAULT_WS, RESEARCH_WS]


@pytest.mark.parametrize("total_count", ["2", 2.5, -1, True, {"n": 2}], ids=repr)
async def test_a_total_count_that_is_not_a_count_is_a_parse_error(
    httpx_mock: HTTPXMock, total_count: Any
) -> None:
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity.json"))
    body = {**fixture_json("openrouter", "workspaces.json"), "total_count": total_count}
    httpx_mock.add_response(url=workspaces_url(), json=body)
    outcome = await collect()
    assert outcome.error_reason == "parse"
    assert "unreadable paging" in (outcome.error_message or "")
    assert outcome.samples is None


async def test_a_workspace_without_an_id_is_counted_as_skipped(httpx_mock: HTTPXMock) -> None:
    [default, research] = fixture_json("openrouter", "workspaces.json")["data"]
    nameless = {k: v for k, v in research.items() if k != "id"}
    body = {"data": [default, nameless], "total_count": 2}
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity.json"))
    httpx_mock.add_response(url=workspaces_url(), json=body)
    mock_keys(httpx_mock, DEFAULT_KEYS)
    outcome = await collect()
    assert outcome.skipped_records == 1
    assert total(samples_of(outcome), catalog.AI_SPEND_BY_API_KEY) == Decimal("7.68")


async def test_a_server_that_ignores_offset_on_workspaces_is_read_once(
    httpx_mock: HTTPXMock,
) -> None:
    page = {**fixture_json("openrouter", "workspaces.json"), "total_count": 50}
    httpx_mock.add_response(url=workspaces_url(0), json=page)
    httpx_mock.add_response(url=workspaces_url(2), json=page)
    ids = await workspace_ids()
    assert ids == [DEFAULT_WS, RESEARCH_WS]


# --- failures ----------------------------------------------------------------------


async def test_a_401_fails_with_reason_auth_and_never_shows_the_key(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=CREDITS, status_code=401, json={"error": {"code": 401}})
    outcome = await collect()
    assert not outcome.ok
    assert outcome.error_reason == "auth"
    assert SECRET not in (outcome.error_message or "")
    assert "management key" in (outcome.error_message or "")


async def test_a_403_from_an_inference_key_on_workspaces_is_an_auth_error(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, json=fixture_json("openrouter", "activity.json"))
    httpx_mock.add_response(url=workspaces_url(), status_code=403)
    outcome = await collect()
    assert outcome.error_reason == "auth"
    assert outcome.samples is None  # the last good snapshot stays, nothing half-done


async def test_a_429_with_retry_after_is_retried_and_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CREDITS, status_code=429, headers={"Retry-After": "1"})
    mock_account(httpx_mock)
    samples = samples_of(await collect())
    assert total(samples, catalog.CREDIT_BALANCE) == Decimal("74.75")
    assert len([r for r in httpx_mock.get_requests() if r.url.path.endswith("/credits")]) == 2


async def test_a_429_that_never_clears_fails_with_reason_rate_limited(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        url=CREDITS, status_code=429, headers={"Retry-After": "0"}, is_reusable=True
    )
    outcome = await collect()
    assert outcome.error_reason == "rate_limited"


async def test_a_5xx_that_persists_fails_with_reason_http_5xx(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, status_code=502, is_reusable=True)
    outcome = await collect()
    assert outcome.error_reason == "http_5xx"
    assert len([r for r in httpx_mock.get_requests() if r.url.path.endswith("/activity")]) == 3


async def test_truncated_json_fails_with_reason_parse(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CREDITS, json=fixture_json("openrouter", "credits.json"))
    httpx_mock.add_response(url=ACTIVITY, text='{"data": [{"date": "2026-11-01", "usa')
    outcome = await collect()
    assert outcome.error_reason == "parse"


async def test_base_url_comes_from_the_environment(httpx_mock: HTTPXMock) -> None:
    other = "https://or-proxy.internal/api/v1"
    httpx_mock.add_response(url=f"{other}/credits", status_code=401)
    config = config_for(openrouter.PROVIDER, env={**ENV, "OPENROUTER_BASE_URL": f"{other}/"})
    [outcome] = await run_provider(openrouter.PROVIDER, config, NOW)
    assert outcome.error_reason == "auth"
