"""Cloudflare collector against fixtures shaped like provider-apis.md section 7.

The clock is tests.helpers.NOW (2026-11-23 01:00 UTC) and the subscription in
`info.json` is anchored on the 5th, so this month is read from 2026-10-05 and
the previous month from 2026-09-05 (the billing-cycle anchor rule).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.errors import ConfigError
from cost_exporter.http_client import BadPaging, HttpClient
from cost_exporter.providers import cloudflare
from cost_exporter.providers.base import Context
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

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
TOKEN = "cf-token-very-secret-1234"
BASE = "https://api.cloudflare.com/client/v4"
INFO = f"{BASE}/accounts/{ACCOUNT}/billable-usage/info"
USAGE = f"{BASE}/accounts/{ACCOUNT}/billable-usage"
GRAPHQL = f"{BASE}/graphql"
ENV = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_ACCOUNT_ID": ACCOUNT}
THIS_MONTH = {"from": "2026-10-05", "to": "2026-11-23"}
LAST_MONTH = {"from": "2026-09-05", "to": "2026-11-01"}


def fx(name: str) -> Any:
    return fixture_json("cloudflare", name)


def env_config() -> Config:
    return config_for(cloudflare.PROVIDER, env=ENV)


def mock_spend(
    httpx_mock: HTTPXMock,
    info: str = "info.json",
    current: tuple[str, ...] = ("usage_current_page1.json", "usage_current_page2.json"),
    previous: str = "usage_previous.json",
    windows: tuple[dict[str, str], dict[str, str]] = (THIS_MONTH, LAST_MONTH),
) -> None:
    httpx_mock.add_response(url=INFO, json=fx(info))
    for page, name in enumerate(current, start=1):
        params = windows[0] if page == 1 else {**windows[0], "page": str(page)}
        httpx_mock.add_response(url=USAGE, match_params=params, json=fx(name))
    httpx_mock.add_response(url=USAGE, match_params=windows[1], json=fx(previous))


def service_totals(samples: Any, family: catalog.Family) -> dict[str, Decimal]:
    return {
        dict(labels)["service_name"]: value for labels, value in values(samples, family).items()
    }


def usage(samples: Any) -> dict[str, Decimal]:
    return {
        dict(labels)["metric"]: value for labels, value in values(samples, catalog.USAGE).items()
    }


async def test_a_normal_month_gives_spend_by_service_and_workers_and_r2_usage(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok, outcome.error_message
    samples = outcome.samples or ()
    assert service_totals(samples, catalog.MONTH_TO_DATE) == {
        "Workers Standard Requests": Decimal("0.75"),
        "R2 Storage": Decimal("0.15"),
        "Workers Standard CPU Time": Decimal("1.2"),
        "R2 Class A Operations": Decimal("0.9"),
    }
    assert {s.label("source") for s in samples if "source" in s.family.labels} == {"api"}
    assert {s.currency for s in samples if s.family.money} == {"USD"}
    assert usage(samples) == {
        "workers_requests": Decimal(1_500_000),
        "workers_cpu_time_seconds": Decimal(4),
        "r2_class_a_operations": Decimal(170_000),
        "r2_class_b_operations": Decimal(2_540_000),
        "r2_storage_bytes": Decimal(5_201_050_000),
    }
    assert outcome.skipped_records == 0


async def test_every_request_carries_the_token_and_graphql_asks_for_this_month(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    requests = httpx_mock.get_requests()
    assert {r.headers["Authorization"] for r in requests} == {f"Bearer {TOKEN}"}
    [graphql] = [r for r in requests if r.method == "POST"]
    body = json.loads(graphql.content)
    assert body["variables"] == {
        "accountTag": ACCOUNT,
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-23T01:00:00Z",
        "storageStart": "2026-11-01T00:00:00Z",
    }
    assert "workersInvocationsAdaptive" in body["query"]


async def test_the_previous_month_counts_its_own_records_and_credits_with_their_sign(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    samples = outcome.samples or ()
    # September and November lines inside the anchor window are not October's.
    assert service_totals(samples, catalog.PREVIOUS_MONTH) == {
        "Workers Standard Requests": Decimal(5),
        "Workers Paid": Decimal(5),
        "Credit": Decimal("-2.5"),
    }
    assert total(samples, catalog.PREVIOUS_MONTH) == Decimal("7.5")


async def test_pages_are_followed_until_result_info_says_the_last_one(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    pages = [
        r.url.params.get("page")
        for r in httpx_mock.get_requests()
        if str(r.url.copy_with(query=None)) == USAGE
    ]
    assert pages == [None, "2", None]
    assert total(outcome.samples or (), catalog.MONTH_TO_DATE) == Decimal("3.00")


async def test_daily_spend_groups_each_months_records_by_day_and_adds_up_to_it(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    samples = outcome.samples or ()
    # Each window's records outside its month (20 Oct, 30 Sep, 1 Nov) are not counted twice.
    assert by_day(samples) == {
        "2026-10-05": Decimal(5),
        "2026-10-06": Decimal(5),
        "2026-10-31": Decimal("-2.5"),
        "2026-11-02": Decimal("0.45"),
        "2026-11-03": Decimal("0.45"),
        "2026-11-04": Decimal("1.2"),
        "2026-11-05": Decimal("0.9"),
    }
    daily = by_day(samples)
    november = sum(v for day, v in daily.items() if day.startswith("2026-11"))
    october = sum(v for day, v in daily.items() if day.startswith("2026-10"))
    assert november == total(samples, catalog.MONTH_TO_DATE) == Decimal(3)
    assert october == total(samples, catalog.PREVIOUS_MONTH) == Decimal("7.5")


async def test_history_reads_one_anchored_window_per_month(httpx_mock: HTTPXMock) -> None:
    # October from the anchor on 5 Sep, November from 5 Oct: the live windows again.
    mock_spend(httpx_mock)
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    samples = await run_history(cloudflare.PROVIDER, env_config(), start, end)
    assert sum(by_day(samples).values()) == Decimal("10.5")
    per_service = values(samples, catalog.DAILY_SERVICE_SPEND)
    key = (
        ("charge_frequency", "one_time"),
        ("day", "2026-10-31"),
        ("service_name", "Credit"),
        ("source", "api"),
    )
    assert per_service[key] == Decimal("-2.5")
    assert not [r for r in httpx_mock.get_requests() if r.url.path.endswith("/graphql")]


async def test_history_of_an_account_cloudflare_does_not_cover_is_empty(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=INFO, json=fx("info_not_covered.json"))
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    assert await run_history(cloudflare.PROVIDER, env_config(), start, end) == []


async def test_a_free_account_with_no_charges_shows_a_zero_not_an_error(
    httpx_mock: HTTPXMock,
) -> None:
    calendar = (
        {"from": "2026-11-01", "to": "2026-11-23"},
        {"from": "2026-10-01", "to": "2026-11-01"},
    )
    mock_spend(
        httpx_mock,
        info="info_free.json",
        current=("usage_empty.json",),
        previous="usage_empty.json",
        windows=calendar,
    )
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_empty.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok
    samples = outcome.samples or ()
    # One explicit 0 per month, so the dashboard's sum reads 0 rather than "no data".
    assert service_totals(samples, catalog.MONTH_TO_DATE) == {"total": Decimal(0)}
    assert service_totals(samples, catalog.PREVIOUS_MONTH) == {"total": Decimal(0)}
    assert set(usage(samples).values()) == {Decimal(0)}
    assert not values(samples, catalog.BUCKET_USAGE)


async def test_an_empty_month_next_to_a_billed_one_is_zero_for_that_month_only(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock, current=("usage_empty.json",))
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    samples = outcome.samples or ()
    assert service_totals(samples, catalog.MONTH_TO_DATE) == {"total": Decimal(0)}
    assert "total" not in service_totals(samples, catalog.PREVIOUS_MONTH)


async def test_an_account_cloudflare_does_not_cover_exports_usage_but_no_spend(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=INFO, json=fx("info_not_covered.json"))
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok
    samples = outcome.samples or ()
    assert not [s for s in samples if s.family.money]
    assert usage(samples)["workers_requests"] == Decimal(1_500_000)


async def test_malformed_records_are_counted_and_skipped(httpx_mock: HTTPXMock) -> None:
    mock_spend(httpx_mock, current=("usage_malformed.json",))
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_malformed.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok
    samples = outcome.samples or ()
    assert service_totals(samples, catalog.MONTH_TO_DATE) == {
        "Workers Standard Requests": Decimal(1)
    }
    assert usage(samples) == {
        "workers_requests": Decimal(1000),
        "workers_cpu_time_seconds": Decimal(2),
        "r2_class_a_operations": Decimal(10),
        "r2_class_b_operations": Decimal(0),
        "r2_storage_bytes": Decimal(101),
    }
    # 3 billing records; workers null, unknown R2 action, R2 row without a count;
    # storage row without a bucket, storage row that is not an object.
    assert outcome.skipped_records == 3 + 3 + 2


async def test_a_month_of_only_unreadable_records_is_unknown_not_zero(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock, current=("usage_all_malformed.json",))
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok
    assert not values(outcome.samples or (), catalog.MONTH_TO_DATE)
    assert outcome.skipped_records == 1


async def test_r2_storage_is_the_latest_level_of_each_bucket(httpx_mock: HTTPXMock) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    buckets = {
        dict(labels)["bucket"]: value
        for labels, value in values(outcome.samples or (), catalog.BUCKET_USAGE).items()
    }
    assert buckets == {"assets": Decimal(5_001_000_000), "eu_backups": Decimal(200_050_000)}


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_fails_with_auth_and_never_shows_the_token(
    httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(url=INFO, status_code=status, json=fx("envelope_auth_error.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert not outcome.ok
    assert outcome.error_reason == "auth"
    assert TOKEN not in (outcome.error_message or "")
    assert len(httpx_mock.get_requests()) == 1


async def test_429_waits_for_retry_after_and_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=INFO, status_code=429, headers={"Retry-After": "0"})
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok
    assert total(outcome.samples or (), catalog.MONTH_TO_DATE) == Decimal("3.00")


async def test_429_that_never_clears_counts_as_rate_limited(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=INFO, status_code=429, headers={"Retry-After": "0"}, is_reusable=True
    )
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "rate_limited"


async def test_a_5xx_that_persists_fails_with_http_5xx(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=INFO, json=fx("info.json"))
    httpx_mock.add_response(url=USAGE, match_params=THIS_MONTH, status_code=502, is_reusable=True)
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "http_5xx"
    assert len(httpx_mock.get_requests()) == 1 + 3


async def test_a_graphql_timeout_fails_with_timeout(httpx_mock: HTTPXMock) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=GRAPHQL, is_reusable=True)
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "timeout"


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("graphql_error_authz.json", "auth"),
        ("graphql_error_range.json", "http_4xx"),
        ("graphql_no_account.json", "empty"),
    ],
)
async def test_graphql_errors_sent_with_http_200_fail_the_collection(
    httpx_mock: HTTPXMock, fixture: str, reason: str
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx(fixture))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert not outcome.ok
    assert outcome.error_reason == reason


async def test_graphql_error_message_is_reported(httpx_mock: HTTPXMock) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_error_range.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert "cannot request data older than" in (outcome.error_message or "")


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("envelope_auth_error.json", "auth"),
        ("envelope_chained_auth_error.json", "auth"),
        ("envelope_error.json", "http_4xx"),
    ],
)
async def test_success_false_with_http_200_is_an_error(
    httpx_mock: HTTPXMock, fixture: str, reason: str
) -> None:
    httpx_mock.add_response(url=INFO, json=fx(fixture))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert not outcome.ok
    assert outcome.error_reason == reason
    assert "success=false" in (outcome.error_message or "")


async def test_a_body_that_is_not_an_envelope_is_a_parse_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=INFO, json=[{"covered": True}])
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "parse"


async def test_an_unreadable_anchor_widens_the_window_to_hold_any_anchor_day(
    httpx_mock: HTTPXMock,
) -> None:
    widest = (
        {"from": "2026-10-02", "to": "2026-11-23"},
        {"from": "2026-09-02", "to": "2026-11-01"},
    )
    mock_spend(
        httpx_mock, info="info_bad_anchor.json", current=("usage_empty.json",), windows=widest
    )
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_empty.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok
    assert outcome.skipped_records == 1


@pytest.mark.parametrize(
    ("day", "anchor", "expected"),
    [
        (date(2026, 11, 1), 5, date(2026, 10, 5)),
        (date(2026, 11, 1), 1, date(2026, 11, 1)),
        (date(2026, 10, 1), 31, date(2026, 9, 30)),
        (date(2026, 3, 1), 30, date(2026, 2, 28)),
        (date(2026, 11, 23), 5, date(2026, 11, 5)),
    ],
)
def test_the_anchor_on_or_before_a_day_clamps_to_short_months(
    day: date, anchor: int, expected: date
) -> None:
    assert cloudflare.anchor_on_or_before(day, anchor) == expected


def test_both_query_windows_stay_within_62_days_for_any_anchor() -> None:
    for month in (date(2026, m, 1) for m in range(1, 13)):
        for anchor in range(1, 32):
            start = cloudflare.window_start(month, [anchor])
            assert start <= month
            assert (month - start).days <= 30


async def test_analytics_can_be_turned_off_for_a_billing_only_token(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_spend(httpx_mock)
    accounts = [{"account_id": ACCOUNT, "token_env": "CF_TOKEN", "analytics": False}]
    config = config_for(cloudflare.PROVIDER, accounts, env={"CF_TOKEN": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(cloudflare.PROVIDER, config, NOW)
    assert outcome.ok
    assert not values(outcome.samples or (), catalog.USAGE)
    assert all(r.method == "GET" for r in httpx_mock.get_requests())


async def test_usage_only_accounts_skip_the_billing_api(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    accounts = [{"account_id": ACCOUNT, "token_env": "CF_TOKEN", "billing": False}]
    config = config_for(cloudflare.PROVIDER, accounts, env={"CF_TOKEN": TOKEN}, tmp_path=tmp_path)
    [outcome] = await run_provider(cloudflare.PROVIDER, config, NOW)
    assert outcome.ok
    assert not [s for s in outcome.samples or () if s.family.money]


def test_a_config_with_nothing_to_collect_is_refused(tmp_path: Path) -> None:
    accounts = [
        {"account_id": ACCOUNT, "token_env": "CF_TOKEN", "billing": False, "analytics": False}
    ]
    with pytest.raises(ConfigError, match="nothing to collect"):
        config_for(cloudflare.PROVIDER, accounts, env={"CF_TOKEN": TOKEN}, tmp_path=tmp_path)


def test_the_base_url_comes_from_the_environment() -> None:
    config = config_for(
        cloudflare.PROVIDER, env={**ENV, "CLOUDFLARE_BASE_URL": "http://127.0.0.1:9999/cf/"}
    )
    [entry] = config.accounts
    assert isinstance(entry.config, cloudflare.Config)
    assert entry.config.base_url == "http://127.0.0.1:9999/cf"


# --- per zone and per Worker script -------------------------------------------------------

SHOP_ZONE = "shop.example.com"
ZONE_ID = "372e67954025e0ba6aaa6d586b9e0b59"  # a zone the record names by id only


def zones(samples: Any) -> dict[str, Decimal]:
    return {
        dict(labels)["zone"]: value
        for labels, value in values(samples, catalog.ZONE_MONTH_TO_DATE).items()
    }


def scripts(samples: Any) -> dict[tuple[str, str], Decimal]:
    return {
        (dict(labels)["script"], dict(labels)["metric"]): value
        for labels, value in values(samples, catalog.WORKER_USAGE).items()
    }


def capped_config(tmp_path: Path, keep: int) -> Config:
    accounts = [{"account_id": ACCOUNT, "token_env": "CF_TOKEN", "top_n": keep}]
    return config_for(cloudflare.PROVIDER, accounts, env={"CF_TOKEN": TOKEN}, tmp_path=tmp_path)


async def test_spend_per_zone_sums_this_months_records_by_zone_name_else_id(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    samples = outcome.samples or ()
    # shop: 0.30 + 0.45 in November (its 20 Oct and 5 Oct records are other months');
    # the CPU-time record names its zone by id only. R2 charges have no zone: left out.
    assert zones(samples) == {SHOP_ZONE: Decimal("0.75"), ZONE_ID: Decimal("1.2")}
    assert {s.currency for s in samples if s.family is catalog.ZONE_MONTH_TO_DATE} == {"USD"}
    assert sum(zones(samples).values()) < total(samples, catalog.MONTH_TO_DATE)
    # The account-level spend is unchanged by the zones.
    assert total(samples, catalog.MONTH_TO_DATE) == Decimal("3.00")


async def test_records_without_a_zone_give_no_zone_series(httpx_mock: HTTPXMock) -> None:
    mock_spend(httpx_mock, current=("usage_malformed.json",))
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    samples = outcome.samples or ()
    assert service_totals(samples, catalog.MONTH_TO_DATE) == {
        "Workers Standard Requests": Decimal(1)
    }
    assert not values(samples, catalog.ZONE_MONTH_TO_DATE)


def test_a_blank_zone_name_falls_back_to_the_id_and_neither_means_no_zone() -> None:
    assert cloudflare.zone_of({"ZoneId": "abc", "ZoneName": "example.com"}) == "example.com"
    assert cloudflare.zone_of({"ZoneId": "abc", "ZoneName": " "}) == "abc"
    assert cloudflare.zone_of({"ZoneId": "abc", "ZoneName": None}) == "abc"
    assert cloudflare.zone_of({"ZoneId": None, "ZoneName": None}) is None
    assert cloudflare.zone_of({"ZoneId": 7}) is None
    assert cloudflare.zone_of({}) is None


async def test_workers_usage_per_script_adds_up_to_the_account_usage(
    httpx_mock: HTTPXMock,
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    samples = outcome.samples or ()
    assert scripts(samples) == {
        ("api", "requests"): Decimal(1_200_000),
        ("api", "cpu_time_seconds"): Decimal("3.5"),
        ("cron", "requests"): Decimal(300_000),
        ("cron", "cpu_time_seconds"): Decimal("0.5"),
    }
    per_script = scripts(samples)
    assert sum(v for (_, m), v in per_script.items() if m == "requests") == Decimal(1_500_000)
    assert usage(samples)["workers_requests"] == Decimal(1_500_000)  # the account series stays
    [graphql] = [r for r in httpx_mock.get_requests() if r.method == "POST"]
    assert "scriptName" in json.loads(graphql.content)["query"]


async def test_the_cap_keeps_the_largest_zones_and_scripts_and_sums_the_rest_as_other(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_spend(httpx_mock)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, capped_config(tmp_path, 1), NOW)
    samples = outcome.samples or ()
    assert zones(samples) == {ZONE_ID: Decimal("1.2"), "other": Decimal("0.75")}
    assert scripts(samples) == {  # by requests: api stays, cron is "other"
        ("api", "requests"): Decimal(1_200_000),
        ("api", "cpu_time_seconds"): Decimal("3.5"),
        ("other", "requests"): Decimal(300_000),
        ("other", "cpu_time_seconds"): Decimal("0.5"),
    }


def test_many_scripts_are_capped_and_rows_without_a_script_count_in_other() -> None:
    rows = [
        {
            "sum": {"requests": 100 * n, "cpuTimeUs": 1_000_000},
            "dimensions": {"scriptName": f"s{n}"},
        }
        for n in range(1, 31)
    ]
    rows.append({"sum": {"requests": 7, "cpuTimeUs": 0}, "dimensions": {}})
    account = {"workers": rows, "r2Operations": [], "r2Storage": []}
    ctx = Context(http=cast(HttpClient, None), now=NOW)
    samples = cloudflare.usage_samples(account, ctx, 20)
    per_script = scripts(samples)
    kept = {s for s, _ in per_script} - {"other"}
    assert kept == {f"s{n}" for n in range(11, 31)}  # the 20 with most requests
    assert per_script[("other", "requests")] == Decimal(100 * sum(range(1, 11)) + 7)
    assert per_script[("other", "cpu_time_seconds")] == Decimal(10)
    requests = sum(v for (_, m), v in per_script.items() if m == "requests")
    assert requests == usage(samples)["workers_requests"]


# --- paging -------------------------------------------------------------------------

UNREADABLE_RESULT_INFO = [
    {"page": "one", "per_page": 4, "total_pages": 2},
    {"page": 1, "per_page": 4, "total_pages": 2.5},
    {"page": float("inf"), "total_pages": 3},
    {"page": 1, "total_pages": float("nan")},
    {"page": True, "total_pages": 2},
    {"page": 0, "total_pages": 2},
    {"page": 1, "count": 4},  # neither a page count nor a page size: more may follow
    {"total_pages": 2},
    [1, 2],
    "page 1 of 2",
]


def test_the_next_page_follows_total_pages_or_total_count_over_per_page() -> None:
    next_page = cloudflare.next_page
    assert next_page({"result_info": {"page": 1, "total_pages": 3}}) == "2"
    assert next_page({"result_info": {"page": 3, "total_pages": 3}}) is None
    assert next_page({"result_info": {"page": 1, "per_page": 20, "total_pages": 0}}) is None
    # total_pages is optional in Cloudflare's result_info: 41 records of 20 are 3 pages.
    assert next_page({"result_info": {"page": 2, "per_page": 20, "total_count": 41}}) == "3"
    assert next_page({"result_info": {"page": 3, "per_page": 20, "total_count": 41}}) is None
    # With a page size alone, a full page may have a successor and a short one is the last.
    info = {"page": 1, "per_page": 2}
    assert next_page({"result": [{}, {}], "result_info": info}) == "2"
    assert next_page({"result": [{}], "result_info": info}) is None


def test_a_body_without_paging_info_is_a_single_page() -> None:
    for body in ({"success": True, "result": []}, {"result_info": None}, {"result_info": {}}):
        assert cloudflare.next_page(body) is None
    assert cloudflare.next_page({"result_info": {"count": 3}}) is None


@pytest.mark.parametrize("info", UNREADABLE_RESULT_INFO, ids=str)
def test_result_info_that_cannot_be_read_is_refused(info: Any) -> None:
    with pytest.raises(BadPaging):
        cloudflare.next_page({"success": True, "result": [], "result_info": info})


@pytest.mark.parametrize("info", [UNREADABLE_RESULT_INFO[i] for i in (0, 1, 6, 8)], ids=str)
async def test_unreadable_result_info_fails_the_collection_with_reason_parse(
    httpx_mock: HTTPXMock, info: Any
) -> None:
    httpx_mock.add_response(url=INFO, json=fx("info.json"))
    page = {**fx("usage_current_page1.json"), "result_info": info}
    httpx_mock.add_response(url=USAGE, match_params=THIS_MONTH, json=page)
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.error_reason == "parse"
    assert "unreadable paging" in (outcome.error_message or "")
    assert outcome.samples is None  # the last good values stay


async def test_an_answer_without_result_info_is_read_as_the_whole_window(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=INFO, json=fx("info.json"))
    current = fx("usage_current_page1.json")
    del current["result_info"]
    httpx_mock.add_response(url=USAGE, match_params=THIS_MONTH, json=current)
    previous = fx("usage_previous.json")
    del previous["result_info"]
    httpx_mock.add_response(url=USAGE, match_params=LAST_MONTH, json=previous)
    httpx_mock.add_response(url=GRAPHQL, method="POST", json=fx("graphql_usage.json"))
    [outcome] = await run_provider(cloudflare.PROVIDER, env_config(), NOW)
    assert outcome.ok, outcome.error_message
    # Strict mocks: a request for page 2 would fail the test.
    assert total(outcome.samples or (), catalog.PREVIOUS_MONTH) == Decimal("7.5")
