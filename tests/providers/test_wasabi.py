from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.errors import CollectorError
from cost_exporter.providers import wasabi
from cost_exporter.s3 import s3_error
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

STATS = "https://stats.wasabisys.com"
ACCESS, SECRET = "WASABIACCESSKEY0001", "wasabi-secret-0123456789abcdef"
ENV = {"WASABI_ACCESS_KEY": ACCESS, "WASABI_SECRET_KEY": SECRET}
TIB = Decimal(1024**4)


def url(path: str, first: str, to: str, page: int = 0) -> httpx.URL:
    params = {"from": first, "to": to, "pageNum": page, "pageSize": 100}
    return httpx.URL(STATS + path, params=params)


CURRENT = url(wasabi.ACCOUNT_PATH, "2026-11-01", "2026-11-23")
PREVIOUS = url(wasabi.ACCOUNT_PATH, "2026-10-01", "2026-11-01")
BUCKETS = url(wasabi.BUCKET_PATH, "2026-11-01", "2026-11-23")


def stats_only(tmp_path: Path, **extra: Any) -> Config:
    account = {"inventory": False, "bucket_stats": False, **extra}
    return config_for(wasabi.PROVIDER, accounts=[account], env=ENV, tmp_path=tmp_path)


def mock_months(
    httpx_mock: HTTPXMock, current: str = "account_current.json", previous: str = "empty.json"
) -> None:
    httpx_mock.add_response(url=CURRENT, json=fixture_json("wasabi", current))
    httpx_mock.add_response(url=PREVIOUS, json=fixture_json("wasabi", previous))


def usage_of(samples: Any) -> dict[str, Decimal]:
    return {dict(k)["metric"]: v for k, v in values(samples, catalog.USAGE).items()}


def bucket_usage(samples: Any) -> dict[tuple[str, str], Decimal]:
    found = values(samples, catalog.BUCKET_USAGE)
    return {(dict(k)["bucket"], dict(k)["metric"]): v for k, v in found.items()}


# --- the Stats API ------------------------------------------------------------------


async def test_a_normal_month_estimates_storage_spend_from_daily_billable_bytes(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.ok, outcome.error_message
    samples = outcome.samples or ()
    days = fixture_json("wasabi", "account_current.json")["Records"]
    billable = sum(
        Decimal(r["PaddedStorageSizeBytes"])
        + r["MetadataStorageSizeBytes"]
        + r["DeletedStorageSizeBytes"]
        for r in days
    )
    # Above the 1 TB minimum: every billable byte-day at 6.99 / 30 per TB-day.
    expected = (Decimal("6.99") / 30 * billable / TIB).quantize(Decimal("0.000001"))
    assert expected == Decimal("8.708375")
    mtd = values(samples, catalog.MONTH_TO_DATE)
    assert mtd == {
        (
            ("charge_frequency", "usage_based"),
            ("service_name", "Storage"),
            ("source", "estimated"),
        ): expected
    }
    assert {s.currency for s in samples if s.family.money} == {"USD"}


async def test_storage_is_the_latest_level_and_traffic_is_the_month_sum(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    usage = usage_of(outcome.samples or ())
    days = fixture_json("wasabi", "account_current.json")["Records"]
    last = days[-1]
    assert usage["padded_storage_bytes"] == last["PaddedStorageSizeBytes"]
    assert usage["billable_storage_bytes"] == (
        last["PaddedStorageSizeBytes"]
        + last["MetadataStorageSizeBytes"]
        + last["DeletedStorageSizeBytes"]
    )
    assert usage["billable_objects"] == last["NumBillableObjects"]
    assert usage["api_calls"] == sum(r["NumAPICalls"] for r in days) == 5101
    assert usage["download_bytes"] == sum(r["DownloadBytes"] for r in days)
    assert "buckets" not in usage  # inventory is off


async def test_the_minimum_charge_tops_up_active_storage_under_1_tb(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock, current="account_small.json")
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    # 300 GB active is billed as 1 TB; the 50 GB still retained after deletion is on top.
    per_day = Decimal("6.99") / 30
    expected = per_day * 22 * (1 + Decimal(50) / 1024)
    mtd = total(outcome.samples or (), catalog.MONTH_TO_DATE)
    assert mtd == expected.quantize(Decimal("0.000001")) == Decimal("5.376293")
    assert mtd > per_day * 22 * Decimal(350) / 1024 * 2  # far above the raw usage


async def test_the_minimum_charge_can_be_configured_away(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock, current="account_small.json")
    config = stats_only(tmp_path, minimum_tb=0, price_per_tb_month="10.24")
    [outcome] = await run_provider(wasabi.PROVIDER, config, NOW)
    # 350 GB for 22 days of a 30-day month at 10.24 per TB.
    expected = Decimal("10.24") / 30 * 22 * Decimal(350) / 1024
    mtd = total(outcome.samples or (), catalog.MONTH_TO_DATE)
    assert mtd == expected.quantize(Decimal("0.000001"))


async def test_the_previous_month_is_priced_from_its_own_days(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock, current="empty.json", previous="account_previous.json")
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    samples = outcome.samples or ()
    # 2 TB all through October's 31 days: 62 TB-days at 6.99 / 30 (Wasabi's 30-day month).
    assert total(samples, catalog.PREVIOUS_MONTH, source="estimated") == Decimal("14.446")
    assert total(samples, catalog.MONTH_TO_DATE) == 0


def month_records(last: date, active_bytes: int) -> list[dict[str, Any]]:
    """One account record per day from the 1st to `last`, each with `active_bytes` stored."""
    first = last.replace(day=1)
    template = fixture_json("wasabi", "account_previous.json")["Records"][0]
    return [
        dict(
            template,
            StartTime=f"{first.replace(day=n).isoformat()}T00:00:00Z",
            PaddedStorageSizeBytes=active_bytes,
            MetadataStorageSizeBytes=0,
            DeletedStorageSizeBytes=0,
        )
        for n in range(1, last.day + 1)
    ]


# Wasabi charges a TB-day at the monthly price / 30 in every month, so a whole month of
# 2 TB at 6.99 costs 2 x 6.99 x days / 30, and 0.5 TB (billed as the 1 TB minimum)
# 6.99 x days / 30. Each month is read as the previous month, on the 2nd of the next.
WHOLE_MONTHS = [
    pytest.param(date(2026, 10, 31), "14.446", "7.223", id="31-day October"),
    pytest.param(date(2026, 11, 30), "13.98", "6.99", id="30-day November"),
    pytest.param(date(2027, 2, 28), "13.048", "6.524", id="28-day February"),
    pytest.param(date(2028, 2, 29), "13.514", "6.757", id="29-day February"),
]


@pytest.mark.parametrize(("last", "two_tb", "minimum"), WHOLE_MONTHS)
async def test_a_whole_month_is_priced_at_the_monthly_price_over_30_per_tb_day(
    httpx_mock: HTTPXMock, tmp_path: Path, last: date, two_tb: str, minimum: str
) -> None:
    first = last.replace(day=1)
    now = datetime.combine(last + timedelta(days=2), time(1), tzinfo=UTC)
    this_month = now.date().replace(day=1)
    for stored, expected in ((2 * 1024**4, two_tb), (512 * 1024**3, minimum)):
        httpx_mock.add_response(
            url=url(wasabi.ACCOUNT_PATH, this_month.isoformat(), now.date().isoformat()),
            json={"Records": []},
        )
        httpx_mock.add_response(
            url=url(wasabi.ACCOUNT_PATH, first.isoformat(), this_month.isoformat()),
            json={"Records": month_records(last, stored)},
        )
        [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), now)
        assert outcome.ok, outcome.error_message
        samples = outcome.samples or ()
        assert total(samples, catalog.PREVIOUS_MONTH) == Decimal(expected)
        per_day = {d: v for d, v in by_day(samples).items() if d < this_month.isoformat()}
        assert len(per_day) == last.day
        assert sum(per_day.values()) == Decimal(expected)
        httpx_mock.reset()


@pytest.mark.parametrize("month", [1, 2, 4], ids=["January", "February", "April"])
async def test_ten_days_cost_the_same_in_a_long_and_a_short_month(
    httpx_mock: HTTPXMock, tmp_path: Path, month: int
) -> None:
    # 2 TB for 10 days: 20 TB-days x 6.99 / 30 = 4.66, whatever the month's length.
    now = datetime(2027, month, 11, 1, tzinfo=UTC)
    first = now.date().replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    records = month_records(date(2027, month, 10), 2 * 1024**4)
    httpx_mock.add_response(
        url=url(wasabi.ACCOUNT_PATH, first.isoformat(), now.date().isoformat()),
        json={"Records": records},
    )
    httpx_mock.add_response(
        url=url(wasabi.ACCOUNT_PATH, previous.isoformat(), first.isoformat()),
        json={"Records": []},
    )
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), now)
    assert total(outcome.samples or (), catalog.MONTH_TO_DATE) == Decimal("4.66")


@pytest.mark.parametrize("current", ["account_current.json", "account_small.json"])
async def test_daily_shares_of_the_estimate_add_up_to_the_month_to_date_on_every_day(
    httpx_mock: HTTPXMock, tmp_path: Path, current: str
) -> None:
    mock_months(httpx_mock, current=current, previous="account_previous.json")
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    samples = outcome.samples or ()
    daily = by_day(samples)
    november = {day: v for day, v in daily.items() if day.startswith("2026-11")}
    assert len(november) == 22
    assert sum(november.values()) == total(samples, catalog.MONTH_TO_DATE)
    october = sum(v for day, v in daily.items() if day.startswith("2026-10"))
    assert october == total(samples, catalog.PREVIOUS_MONTH) == Decimal("14.446")
    assert min(daily.values()) >= 0
    # Every prefix is the estimate the exporter would have shown after that day.
    records = [
        wasabi.parse_record(r, bucket=False) for r in fixture_json("wasabi", current)["Records"]
    ]
    for count in (1, 7, 22):
        prefix = sum(list(november.values())[:count], Decimal(0))
        expected = wasabi.estimate_spend(records[:count], Decimal("6.99"), Decimal(1))
        assert prefix == expected


async def test_history_prices_one_month_of_account_records_per_request(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock, current="account_current.json", previous="account_previous.json")
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    samples = await run_history(wasabi.PROVIDER, stats_only(tmp_path), start, end)
    assert sum(by_day(samples).values()) == Decimal("14.446") + Decimal("8.708375")
    services = {
        (dict(k)["service_name"], dict(k)["source"])
        for k in values(samples, catalog.DAILY_SERVICE_SPEND)
    }
    assert services == {("Storage", "estimated")}


async def test_an_empty_month_accrues_nothing_and_reports_no_usage(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock, current="empty.json", previous="empty.json")
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.ok
    samples = outcome.samples or ()
    assert total(samples, catalog.MONTH_TO_DATE) == 0
    # Storage is unknown without a day, so no usage series rather than a fake 0.
    assert values(samples, catalog.USAGE) == {}


async def test_records_from_outside_the_month_do_not_count(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    body = fixture_json("wasabi", "account_previous.json")
    november = copy.deepcopy(body["Records"][-1])
    november["StartTime"] = "2026-11-01T00:00:00Z"
    body["Records"].append(november)
    httpx_mock.add_response(url=CURRENT, json=fixture_json("wasabi", "empty.json"))
    httpx_mock.add_response(url=PREVIOUS, json=body)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert total(outcome.samples or (), catalog.PREVIOUS_MONTH) == Decimal("14.446")


async def test_malformed_records_are_counted_and_skipped(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    body = fixture_json("wasabi", "account_small.json")
    good = body["Records"]
    bad = [copy.deepcopy(good[0]) for _ in range(4)]
    bad[0]["StartTime"] = "yesterday"
    bad[1]["PaddedStorageSizeBytes"] = "lots"
    del bad[2]["DeletedStorageSizeBytes"]
    bad[3]["NumAPICalls"] = -5
    body["Records"] = [*good[:5], *bad, "not a record", None]
    httpx_mock.add_response(url=CURRENT, json=body)
    httpx_mock.add_response(url=PREVIOUS, json=fixture_json("wasabi", "empty.json"))
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.ok
    assert outcome.skipped_records == 6
    assert usage_of(outcome.samples or ())["api_calls"] == 5 * 10


async def test_a_page_of_nothing_but_unreadable_records_is_a_parse_error(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=CURRENT, json={"PageInfo": {}, "Records": [{"x": 1}, 2]})
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "parse"
    assert outcome.skipped_records == 2


async def test_a_body_without_records_is_a_parse_error(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=CURRENT, json={"message": "maintenance"})
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "parse"


async def test_a_bare_array_is_read_like_the_envelope(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    records = fixture_json("wasabi", "account_current.json")["Records"]
    httpx_mock.add_response(url=CURRENT, json=records)
    httpx_mock.add_response(url=PREVIOUS, json=[])
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert total(outcome.samples or (), catalog.MONTH_TO_DATE) == Decimal("8.708375")


async def test_sends_access_and_secret_joined_by_a_colon(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    [first, *_] = httpx_mock.get_requests()
    assert first.headers["Authorization"] == f"{ACCESS}:{SECRET}"
    assert SECRET not in str(first.url)


# --- paging ---------------------------------------------------------------------------


def bucket_pages(count: int) -> list[dict[str, Any]]:
    """`count` bucket-day records in pages of 100, PageInfo filled in on page 0 only."""
    template = fixture_json("wasabi", "buckets_current.json")["Records"][0]
    records = []
    for i in range(count):
        record = dict(template, Bucket=f"bucket-{i // 22:03d}", NumAPICalls=1)
        record["StartTime"] = f"2026-11-{i % 22 + 1:02d}T00:00:00Z"
        records.append(record)
    chunks = [records[i : i + 100] for i in range(0, count, 100)]
    pages = []
    for number, chunk in enumerate(chunks):
        first = number == 0
        info = {
            "RecordCount": count if first else 0,
            "PageCount": len(chunks) if first else 0,
            "PageSize": 100,
            "PageNum": number,
        }
        pages.append({"PageInfo": info, "Records": chunk})
    return pages


async def test_bucket_stats_are_read_page_by_page_until_a_short_page(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    pages = bucket_pages(220)  # 10 buckets x 22 days: pages of 100, 100, 20
    for number, page in enumerate(pages):
        httpx_mock.add_response(
            url=url(wasabi.BUCKET_PATH, "2026-11-01", "2026-11-23", number), json=page
        )
    config = stats_only(tmp_path, bucket_stats=True)
    [outcome] = await run_provider(wasabi.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    per_bucket = bucket_usage(outcome.samples or ())
    calls = {b: v for (b, m), v in per_bucket.items() if m == "api_calls"}
    assert len(calls) == 10
    assert set(calls.values()) == {22}


async def test_paging_stops_at_the_stated_page_count_when_the_last_page_is_full(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    [page] = bucket_pages(100)
    httpx_mock.add_response(url=BUCKETS, json=page)
    config = stats_only(tmp_path, bucket_stats=True)
    # Strict mocks: a request for page 1 would fail the test.
    [outcome] = await run_provider(wasabi.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    assert len(httpx_mock.get_requests(url=BUCKETS)) == 1


@pytest.mark.parametrize(
    "info",
    [{"PageCount": "3"}, {"PageCount": -1}, {"PageCount": 1.5}, {"PageCount": True}, [3]],
    ids=str,
)
async def test_page_info_that_cannot_be_read_is_a_parse_error(
    httpx_mock: HTTPXMock, tmp_path: Path, info: Any
) -> None:
    body = {**fixture_json("wasabi", "account_current.json"), "PageInfo": info}
    httpx_mock.add_response(url=CURRENT, json=body)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "parse"
    assert "unreadable paging" in (outcome.error_message or "")
    assert outcome.samples is None


async def test_records_without_page_info_are_read_until_a_short_page(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    body = fixture_json("wasabi", "account_current.json")
    del body["PageInfo"]
    httpx_mock.add_response(url=CURRENT, json=body)
    httpx_mock.add_response(url=PREVIOUS, json={"Records": []})
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.ok, outcome.error_message
    assert total(outcome.samples or (), catalog.MONTH_TO_DATE) == Decimal("8.708375")


async def test_per_bucket_usage_with_levels_only_for_buckets_still_there(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    httpx_mock.add_response(url=BUCKETS, json=fixture_json("wasabi", "buckets_current.json"))
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path, bucket_stats=True), NOW)
    per_bucket = bucket_usage(outcome.samples or ())
    assert per_bucket["backups", "api_calls"] == 4191
    assert per_bucket["backups", "padded_storage_bytes"] == 1599875317760
    assert per_bucket["media", "billable_storage_bytes"] == 268972326912
    # old-logs stopped reporting on the 10th: its traffic counts, its old size is not today's.
    assert per_bucket["old-logs", "api_calls"] == 30
    assert ("old-logs", "padded_storage_bytes") not in per_bucket


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_keys_count_as_auth_and_never_leak_the_secret(
    httpx_mock: HTTPXMock, tmp_path: Path, status: int
) -> None:
    httpx_mock.add_response(url=CURRENT, status_code=status, text=f"bad key {ACCESS}:{SECRET}")
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "auth"
    assert SECRET not in (outcome.error_message or "")
    assert ACCESS not in (outcome.error_message or "")


async def test_a_429_with_retry_after_is_retried(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=CURRENT, status_code=429, headers={"Retry-After": "0"})
    mock_months(httpx_mock)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.ok
    assert len(httpx_mock.get_requests(url=CURRENT)) == 2


async def test_a_429_that_persists_counts_as_rate_limited(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(
        url=CURRENT, status_code=429, headers={"Retry-After": "0"}, is_reusable=True
    )
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "rate_limited"


async def test_a_5xx_that_persists_counts_as_http_5xx(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=CURRENT, status_code=502, is_reusable=True)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "http_5xx"


async def test_a_timeout_counts_as_timeout(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CURRENT, is_reusable=True)
    [outcome] = await run_provider(wasabi.PROVIDER, stats_only(tmp_path), NOW)
    assert outcome.error_reason == "timeout"


# --- config ---------------------------------------------------------------------------


def test_keys_and_urls_come_from_the_environment() -> None:
    env = {
        **ENV,
        "WASABI_ENDPOINT_URL": "https://s3.eu-central-1.wasabisys.com",
        "WASABI_STATS_URL": "http://127.0.0.1:8080/",
    }
    config = config_for(wasabi.PROVIDER, env=env)
    [entry] = config.accounts
    assert isinstance(entry.config, wasabi.Config)
    assert entry.config.secret_key.get_secret_value() == SECRET
    assert entry.config.base_url == "http://127.0.0.1:8080"
    assert wasabi.s3_region(entry.config) == "eu-central-1"
    assert entry.config.price_per_tb_month == Decimal("6.99")
    assert SECRET not in repr(entry.config)


def test_the_official_stats_url_is_the_default() -> None:
    [entry] = config_for(wasabi.PROVIDER, env=ENV).accounts
    assert isinstance(entry.config, wasabi.Config)
    assert entry.config.base_url == STATS
    assert entry.config.endpoint_url == "https://s3.wasabisys.com"
    assert wasabi.s3_region(entry.config) == "us-east-1"


def test_importing_the_provider_does_not_import_boto3() -> None:
    code = "import sys, cost_exporter.providers.wasabi; print('boto3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --- the S3 inventory (moto) ----------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto answering on Wasabi's own endpoint, with a few buckets."""
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", "https://s3.wasabisys.com")
    with mock_aws():
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url="https://s3.wasabisys.com",
            aws_access_key_id=ACCESS,
            aws_secret_access_key=SECRET,
        )
        client.create_bucket(Bucket="backups")
        client.create_bucket(Bucket="media")
        client.create_bucket(
            Bucket="eu-archive", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        yield client


def test_inventory_lists_buckets_with_their_region(s3: Any, tmp_path: Path) -> None:
    [entry] = stats_only(tmp_path, inventory=True).accounts
    assert isinstance(entry.config, wasabi.Config)
    regions = wasabi.bucket_inventory(entry.config)
    assert regions == {"backups": "us-east-1", "media": "us-east-1", "eu-archive": "eu-central-1"}


async def test_inventory_counts_buckets_and_notes_those_without_stats(
    s3: Any, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    mock_months(httpx_mock)
    httpx_mock.add_response(url=BUCKETS, json=fixture_json("wasabi", "buckets_current.json"))
    config = config_for(wasabi.PROVIDER, env=ENV)
    [outcome] = await run_provider(wasabi.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    usage = usage_of(outcome.samples or ())
    assert usage["buckets"] == 3
    assert usage["bucket_regions"] == 2
    assert usage["buckets_without_stats"] == 1  # eu-archive: S3 knows it, the stats do not


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"key {ACCESS} denied"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "ListBuckets")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (client_error("AccessDenied", 403), "auth"),
        (client_error("InvalidAccessKeyId", 403), "auth"),
        (client_error("SignatureDoesNotMatch", 403), "auth"),
        (client_error("SlowDown", 503), "rate_limited"),
        (client_error("InternalError", 500), "http_5xx"),
        (client_error("NoSuchBucket", 404), "config"),
        (client_error("Throttling", 400), "rate_limited"),
        (EndpointConnectionError(endpoint_url="https://s3.wasabisys.com"), "connection"),
        (ReadTimeoutError(endpoint_url="https://s3.wasabisys.com"), "timeout"),
    ],
)
def test_boto3_errors_map_to_counted_reasons(error: Exception, reason: str) -> None:
    mapped = s3_error(error, "S3 ListBuckets")
    assert isinstance(mapped, CollectorError)
    assert mapped.reason == reason
    assert ACCESS not in str(mapped)


def test_an_unreachable_s3_endpoint_fails_with_reason_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://s3.wasabisys.com")

    [entry] = stats_only(tmp_path).accounts
    assert isinstance(entry.config, wasabi.Config)
    with mock_aws():
        monkeypatch.setattr("botocore.client.BaseClient._make_api_call", refuse)
        with pytest.raises(CollectorError) as caught:
            wasabi.bucket_inventory(entry.config)
    assert caught.value.reason == "connection"


# --- pure functions -------------------------------------------------------------------


def test_a_month_with_no_day_costs_nothing_even_with_a_minimum() -> None:
    assert wasabi.estimate_spend([], Decimal("6.99"), Decimal(1)) == 0


def test_records_keep_the_utc_day_they_start() -> None:
    record = fixture_json("wasabi", "account_current.json")["Records"][0]
    record["StartTime"] = "2026-11-01T00:00:00+00:00"
    assert wasabi.parse_record(record, bucket=False).day == date(2026, 11, 1)
    with pytest.raises(wasabi.BadRecord):
        wasabi.parse_record(record, bucket=True)  # no Bucket in an account record


def test_without_bucket_stats_no_bucket_is_counted_as_missing_from_them() -> None:
    counts = wasabi.inventory_usage({"a-bucket": "us-east-1", "b-bucket": "eu-central-1"}, None)
    assert counts == {"buckets": 2, "bucket_regions": 2}
