from __future__ import annotations

import gzip
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from cost_exporter import catalog
from cost_exporter.health import Outcome
from cost_exporter.providers import vercel
from cost_exporter.providers.vercel import usage_metric
from cost_exporter.samples import Sample
from tests.helpers import (
    NOW,
    by_day,
    config_for,
    fixture_text,
    run_history,
    run_provider,
    total,
    values,
)

TOKEN = "vercel-token-do-not-leak"
ENV = {"VERCEL_API_TOKEN": TOKEN, "VERCEL_TEAM_ID": "team_123"}
CHARGES = "https://api.vercel.com/v1/billing/charges"
CURRENT = str(
    httpx.URL(
        CHARGES,
        params={
            "from": "2026-11-01T00:00:00.000Z",
            "to": "2026-11-23T01:00:00.000Z",
            "teamId": "team_123",
        },
    )
)
PREVIOUS = str(
    httpx.URL(
        CHARGES,
        params={
            "from": "2026-10-01T00:00:00.000Z",
            "to": "2026-11-01T00:00:00.000Z",
            "teamId": "team_123",
        },
    )
)
JSONL = {"Content-Type": "application/jsonl"}


async def collect() -> Outcome:
    [outcome] = await run_provider(vercel.PROVIDER, config_for(vercel.PROVIDER, env=ENV), NOW)
    return outcome


def samples_of(outcome: Outcome) -> tuple[Sample, ...]:
    assert outcome.samples is not None, outcome.error_message
    return outcome.samples


def serve(httpx_mock: HTTPXMock, current: str, previous: str = "") -> None:
    httpx_mock.add_response(url=CURRENT, text=current, headers=JSONL)
    httpx_mock.add_response(url=PREVIOUS, text=previous, headers=JSONL)


async def test_a_normal_month_gives_spend_per_service_with_credits_netted(
    httpx_mock: HTTPXMock,
) -> None:
    serve(httpx_mock, fixture_text("vercel", "charges_current.jsonl"))
    outcome = await collect()
    assert outcome.ok, outcome.error_message
    mtd = {
        (dict(k)["service_name"], dict(k)["charge_frequency"]): v
        for k, v in values(samples_of(outcome), catalog.MONTH_TO_DATE).items()
    }
    # 1.84 + 0.60 of invocations; the 1.00 credit on the same service and the plan
    # purchase never count as usage (the stream sends no ChargeFrequency: the category
    # decides).
    assert mtd == {
        ("Function Invocations", "usage_based"): Decimal("2.44"),
        ("Function Invocations", "one_time"): Decimal("-1.0"),
        ("Fast Data Transfer", "usage_based"): Decimal("0.15"),
        ("Function Duration", "usage_based"): Decimal("3.6"),
        ("Edge Requests", "usage_based"): Decimal(0),
        ("Pro Plan", "one_time"): Decimal(20),
    }
    assert {
        s.label("source") for s in samples_of(outcome) if s.family.money and s.label("source")
    } == {"api"}
    assert {s.currency for s in samples_of(outcome) if s.family.money} == {"USD"}
    assert outcome.skipped_records == 0


async def test_usage_is_named_after_its_unit_and_converted_to_base_units(
    httpx_mock: HTTPXMock,
) -> None:
    serve(httpx_mock, fixture_text("vercel", "charges_current.jsonl"))
    outcome = await collect()
    usage = {dict(k)["metric"]: v for k, v in values(samples_of(outcome), catalog.USAGE).items()}
    # The credit (no quantity) and the plan purchase (1 seat) measure no consumption.
    assert usage == {
        "function_invocations": Decimal(1_626_000),
        "fast_data_transfer_bytes": Decimal(14_000_000_000),
        "function_duration_gb_hours": Decimal(20),
        "edge_requests": Decimal(250_000),
    }


async def test_project_spend_comes_from_tags_and_untagged_charges_are_unknown(
    httpx_mock: HTTPXMock,
) -> None:
    serve(httpx_mock, fixture_text("vercel", "charges_current.jsonl"))
    outcome = await collect()
    projects = {
        dict(k)["project"]: v
        for k, v in values(samples_of(outcome), catalog.PROJECT_MONTH_TO_DATE).items()
    }
    assert projects == {"web": Decimal("5.44"), "api": Decimal("0.75"), "unknown": Decimal(19)}
    # The breakdown adds up to the month's spend: nothing lost, nothing counted twice.
    assert sum(projects.values()) == total(samples_of(outcome), catalog.MONTH_TO_DATE)


async def test_projects_beyond_the_configured_top_are_summed_into_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    serve(httpx_mock, fixture_text("vercel", "charges_current.jsonl"))
    accounts = [{"token_env": "MY_VERCEL", "team_id": "team_123", "top_projects": 1}]
    config = config_for(vercel.PROVIDER, accounts, env={"MY_VERCEL": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(vercel.PROVIDER, config, NOW)
    projects = {
        dict(k)["project"]: v
        for k, v in values(samples_of(outcome), catalog.PROJECT_MONTH_TO_DATE).items()
    }
    assert projects == {"unknown": Decimal(19), "other": Decimal("6.19")}


async def test_the_previous_month_is_read_from_its_own_window(httpx_mock: HTTPXMock) -> None:
    serve(httpx_mock, "", fixture_text("vercel", "charges_previous.jsonl"))
    outcome = await collect()
    assert outcome.ok
    assert total(samples_of(outcome), catalog.PREVIOUS_MONTH) == Decimal("27.5")
    pro_plan = total(samples_of(outcome), catalog.PREVIOUS_MONTH, service_name="Pro Plan")
    assert pro_plan == Decimal(20)
    # Last month's quantities are not this month's usage.
    assert values(samples_of(outcome), catalog.USAGE) == {}


async def test_requests_send_the_token_and_team_and_cover_month_start_to_now(
    httpx_mock: HTTPXMock,
) -> None:
    serve(httpx_mock, "", "")
    await run_provider(vercel.PROVIDER, config_for(vercel.PROVIDER, env=ENV), NOW)
    current, previous = httpx_mock.get_requests()
    assert current.headers["Authorization"] == f"Bearer {TOKEN}"
    assert current.url.params["from"] == "2026-11-01T00:00:00.000Z"
    assert current.url.params["to"] == "2026-11-23T01:00:00.000Z"
    assert previous.url.params["to"] == current.url.params["from"]
    assert previous.url.params["teamId"] == "team_123"


async def test_an_empty_month_succeeds_without_inventing_zero_series(
    httpx_mock: HTTPXMock,
) -> None:
    serve(httpx_mock, "", "")
    outcome = await collect()
    assert outcome.ok
    assert samples_of(outcome) == ()


async def test_a_gzip_encoded_stream_is_decoded_line_by_line(httpx_mock: HTTPXMock) -> None:
    body = gzip.compress(fixture_text("vercel", "charges_current.jsonl").encode())
    # Two chunks, so the decoder works across chunk boundaries like on a real stream.
    chunks = [body[:40], body[40:]]
    headers = {**JSONL, "Content-Encoding": "gzip"}
    httpx_mock.add_response(url=CURRENT, stream=IteratorStream(chunks), headers=headers)
    httpx_mock.add_response(url=PREVIOUS, text="", headers=JSONL)
    outcome = await collect()
    assert outcome.ok
    assert total(samples_of(outcome), catalog.MONTH_TO_DATE) == Decimal("25.19")


async def test_malformed_lines_are_counted_and_skipped(httpx_mock: HTTPXMock) -> None:
    serve(httpx_mock, fixture_text("vercel", "charges_malformed.jsonl"))
    outcome = await collect()
    assert outcome.ok
    # Cut JSON, an array, a non-numeric BilledCost, an unreadable ChargePeriodStart.
    assert outcome.skipped_records == 4
    assert total(samples_of(outcome), catalog.MONTH_TO_DATE) == Decimal("1.84")


async def test_a_body_without_a_single_record_is_a_parse_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CURRENT, text="<html><body>Sign in</body></html>\n")
    outcome = await collect()
    assert outcome.error_reason == "parse"


@pytest.mark.parametrize("status", [401, 403])
async def test_a_rejected_token_fails_with_reason_auth_and_is_never_echoed(
    httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(url=CURRENT, status_code=status, text=f"bad token {TOKEN}")
    outcome = await collect()
    assert outcome.error_reason == "auth"
    assert TOKEN not in (outcome.error_message or "")
    assert len(httpx_mock.get_requests()) == 1


async def test_a_429_with_retry_after_is_retried_and_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CURRENT, status_code=429, headers={"Retry-After": "3"})
    serve(httpx_mock, fixture_text("vercel", "charges_current.jsonl"))
    outcome = await collect()
    assert outcome.ok
    assert total(samples_of(outcome), catalog.MONTH_TO_DATE) == Decimal("25.19")


async def test_a_429_that_persists_counts_as_rate_limited(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=CURRENT, status_code=429, headers={"Retry-After": "1"}, is_reusable=True
    )
    outcome = await collect()
    assert outcome.error_reason == "rate_limited"
    assert len(httpx_mock.get_requests()) == 3


async def test_a_server_error_that_persists_counts_as_http_5xx(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CURRENT, status_code=503, is_reusable=True)
    outcome = await collect()
    assert outcome.error_reason == "http_5xx"


async def test_a_timeout_counts_as_timeout(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CURRENT, is_reusable=True)
    outcome = await collect()
    assert outcome.error_reason == "timeout"


# --- daily spend and history ------------------------------------------------------


TODAY_LINE = (
    '{"BilledCost":0.5,"BillingCurrency":"USD","ChargeCategory":"Usage",'
    '"ChargePeriodStart":"2026-11-23T00:00:00.000Z","ChargePeriodEnd":"2026-11-24T00:00:00.000Z",'
    '"ServiceName":"Function Invocations","ConsumedQuantity":1000,"ConsumedUnit":"Invocations"}'
)


async def test_daily_spend_of_completed_days_adds_up_to_the_month_to_date(
    httpx_mock: HTTPXMock,
) -> None:
    current = fixture_text("vercel", "charges_current.jsonl") + TODAY_LINE + "\n"
    serve(httpx_mock, current, fixture_text("vercel", "charges_previous.jsonl"))
    samples = samples_of(await collect())
    daily = by_day(samples)
    november = {day: v for day, v in daily.items() if day.startswith("2026-11")}
    # Today (the 23rd) is still running: in the month to date, not a complete day.
    assert november == {
        "2026-11-01": Decimal(20),
        "2026-11-20": Decimal("1.84"),
        "2026-11-21": Decimal("3.35"),  # 0.60 + 0.15 + 3.60 - 1.00 credit
    }
    assert sum(november.values()) + Decimal("0.5") == total(samples, catalog.MONTH_TO_DATE)
    october = sum(v for day, v in daily.items() if day.startswith("2026-10"))
    assert october == total(samples, catalog.PREVIOUS_MONTH) == Decimal("27.5")
    assert {s.currency for s in samples if s.family is catalog.DAILY_SPEND} == {"USD"}


async def test_history_reads_at_most_a_year_per_request_and_splits_spend_by_day_and_service(
    httpx_mock: HTTPXMock,
) -> None:
    start, end = datetime(2025, 11, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    windows = [
        ("2025-11-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z", "charges_previous.jsonl"),
        ("2026-11-01T00:00:00.000Z", "2026-11-23T00:00:00.000Z", "charges_current.jsonl"),
    ]
    for first, to, name in windows:
        params = {"from": first, "to": to, "teamId": "team_123"}
        url = str(httpx.URL(CHARGES, params=params))
        httpx_mock.add_response(url=url, text=fixture_text("vercel", name), headers=JSONL)
    config = config_for(vercel.PROVIDER, env=ENV)
    samples = await run_history(vercel.PROVIDER, config, start, end)
    daily = by_day(samples)
    assert daily["2026-10-01"] == Decimal(20)
    assert daily["2026-11-21"] == Decimal("3.35")
    assert sum(daily.values()) == Decimal("27.5") + Decimal("25.19")
    per_service = values(samples, catalog.DAILY_SERVICE_SPEND)
    day = (("day", "2026-11-21"),)
    invocations = (("service_name", "Function Invocations"), ("source", "api"))
    usage = (("charge_frequency", "usage_based"), *day, *invocations)
    credit = (("charge_frequency", "one_time"), *day, *invocations)
    assert (per_service[usage], per_service[credit]) == (Decimal("0.6"), Decimal("-1.0"))
    assert sum(per_service.values()) == sum(daily.values())


@pytest.mark.parametrize(
    ("service", "unit", "metric", "factor"),
    [
        ("Function Invocations", "Invocations", "function_invocations", 1),
        ("Edge Requests", "Requests", "edge_requests", 1),
        ("Fast Data Transfer", "GB", "fast_data_transfer_bytes", 10**9),
        ("Function Duration", "GB-Hours", "function_duration_gb_hours", 1),
        ("Function Duration", "GB-Hrs", "function_duration_gb_hours", 1),
        ("Blob Data Transfer", "MB", "blob_data_transfer_bytes", 10**6),
        ("Edge Middleware Invocations", "Executions", "edge_middleware_invocations", 1),
        (
            "Image Optimization Transformations",
            "Transformations",
            "image_optimization_transformations",
            1,
        ),
        ("Blob Storage Size", "GB-Month", "blob_storage_size_gb_month", 1),
        ("Build Time", "Minutes", "build_time_seconds", 60),
    ],
)
def test_usage_metric_names_are_snake_case_with_a_base_unit_suffix(
    service: str, unit: str, metric: str, factor: int
) -> None:
    assert usage_metric(service, unit) == (metric, Decimal(factor))


# --- what the config will not see ------------------------------------------------------


def test_without_a_team_id_the_config_warns_that_team_projects_are_not_visible() -> None:
    [entry] = config_for(vercel.PROVIDER, env={"VERCEL_API_TOKEN": TOKEN}).accounts
    [warning] = vercel.PROVIDER.config_warnings(entry.config)
    assert "VERCEL_TEAM_ID" in warning and "team-owned projects" in warning


def test_with_a_team_id_the_config_has_nothing_to_warn_about() -> None:
    [entry] = config_for(vercel.PROVIDER, env=ENV).accounts
    assert vercel.PROVIDER.config_warnings(entry.config) == []
