"""Wasabi: daily storage and traffic from the Stats API, spend estimated from it.

Endpoints (base `https://stats.wasabisys.com`, header `Authorization: ACCESS:SECRET`):
`GET /v1/standalone/utilizations` (account, one record per UTC day) and
`GET /v1/standalone/utilizations/bucket` (every bucket, one record per bucket and day),
paged with `pageNum`/`pageSize`. Credential: root keys, or better a sub-user whose keys
carry only `WasabiAccountStatsAccess` and `WasabiBucketStatsAccess`. The optional bucket
inventory lists buckets and their region over S3 (boto3 against `endpoint_url`) and needs
`s3:ListAllMyBuckets` and `s3:GetBucketLocation` only.

Wasabi reports no money, so spend is an estimate (`source="estimated"`), computed the way
Wasabi's invoice does it (storage is charged per TB-day at the monthly price / 30, whatever
the length of the month; 1 TB = 1024 GB of 1024**3 bytes):

    active_d  = PaddedStorageSizeBytes + MetadataStorageSizeBytes   (TB, day d)
    deleted_d = DeletedStorageSizeBytes                              (TB, day d)
    spend     = price_per_tb_month / 30
                * (max(sum(active_d), minimum_tb * days) + sum(deleted_d))

over the days the Stats API reported for that month (`days`); a full 30-day month thus
costs `price * max(average active TB, minimum_tb) + price * average deleted TB`, a 31-day
month 31/30 of that and February 28/30, the minimum charge topping up active storage
only, as on the invoice. A month with no reported day accrues 0. A day's share
(`cost_last_day`, the backfill) is the estimate up to that day minus the estimate up to
the day before, so the days always add up to the month.

    cost_month_to_date{provider="wasabi",account="default",service_name="Storage",currency="USD",source="estimated",charge_frequency="usage_based"} 8.708375
    cost_usage{provider="wasabi",account="default",metric="billable_storage_bytes"} 1.976758697984e+12
    cost_bucket_usage{provider="wasabi",account="default",bucket="backups",metric="api_calls"} 4191
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr

from cost_exporter import catalog
from cost_exporter.daily import DailySpend, utc_day
from cost_exporter.errors import CollectorError
from cost_exporter.periods import month_start, next_month_start
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.s3 import s3_error
from cost_exporter.samples import BadAmount, BadRecord, Money, Sample, to_decimal
from cost_exporter.settings import HttpAccountConfig

ACCOUNT_PATH = "/v1/standalone/utilizations"
BUCKET_PATH = "/v1/standalone/utilizations/bucket"
PAGE_SIZE = 100  # the documented maximum
# A year of per-bucket records is thousands of 100-record pages: a higher bound than the
# shared client's default, still bounded against a server that never says "last page".
MAX_PAGES = 1000
TB = Decimal(1024**4)
# Wasabi prices storage per TB-month but charges it per GB-day at price / 30 / 1024, whatever
# the length of the month: its invoice guide derives the $0.00022754 GB-day rate of a
# $6.99/TB-month plan as 6.99 / 30 / 1024
# (https://docs.wasabi.com/docs/interpreting-charges-on-a-wasabi-invoice). Dividing by the
# days of the calendar month instead is 3% low in 31-day months and 7% high in February.
DAYS_PER_PRICED_MONTH = 30
SERVICE = "Storage"

# Record field -> usage metric. Levels are "as of midnight UTC": the latest day counts.
LEVELS = {
    "PaddedStorageSizeBytes": "padded_storage_bytes",
    "MetadataStorageSizeBytes": "metadata_storage_bytes",
    "DeletedStorageSizeBytes": "deleted_storage_bytes",
    "RawStorageSizeBytes": "raw_storage_bytes",
    "NumBillableObjects": "billable_objects",
    "NumBillableDeletedObjects": "billable_deleted_objects",
}
# Traffic fields are that day's activity: the month is their sum.
COUNTERS = {
    "NumAPICalls": "api_calls",
    "UploadBytes": "upload_bytes",
    "DownloadBytes": "download_bytes",
}
# Without these a day cannot be priced, so a record lacking one is skipped.
REQUIRED = ("PaddedStorageSizeBytes", "MetadataStorageSizeBytes", "DeletedStorageSizeBytes")


class Config(HttpAccountConfig):
    base_url: str = "https://stats.wasabisys.com"
    access_key: SecretStr
    secret_key: SecretStr
    endpoint_url: str = Field("https://s3.wasabisys.com", pattern=r"^https?://")
    region: str | None = None
    """S3 signing region; derived from `endpoint_url` (s3.<region>.wasabisys.com) if unset."""
    price_per_tb_month: Decimal = Field(Decimal("6.99"), ge=0)
    minimum_tb: Decimal = Field(Decimal(1), ge=0)
    currency: str = Field("USD", pattern="^[A-Z]{3}$")
    bucket_stats: bool = True
    inventory: bool = True


@dataclass(frozen=True)
class Day:
    day: date
    bucket: str | None
    values: Mapping[str, Decimal]

    @property
    def active(self) -> Decimal:
        return self.values["PaddedStorageSizeBytes"] + self.values["MetadataStorageSizeBytes"]

    @property
    def deleted(self) -> Decimal:
        return self.values["DeletedStorageSizeBytes"]


def parse_record(raw: Any, *, bucket: bool) -> Day:
    if not isinstance(raw, dict):
        raise BadRecord(f"not an object: {type(raw).__name__}")
    try:
        start = datetime.fromisoformat(str(raw["StartTime"]))
    except (KeyError, ValueError) as exc:
        raise BadRecord(f"no usable StartTime: {exc}") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    name = raw.get("Bucket")
    if bucket and (not isinstance(name, str) or not name):
        raise BadRecord("bucket record without Bucket")
    values: dict[str, Decimal] = {}
    for field in (*LEVELS, *COUNTERS):
        if field not in raw:
            if field in REQUIRED:
                raise BadRecord(f"missing {field}")
            continue
        try:
            value = to_decimal(raw[field])
        except BadAmount as exc:
            raise BadRecord(f"{field}: {exc}") from None
        if value < 0:
            raise BadRecord(f"{field}: negative")
        values[field] = value
    return Day(start.astimezone(UTC).date(), name if bucket else None, values)


def records_of(page: Any) -> tuple[list[Any], int | None]:
    """(records, PageCount if this page states one): the envelope or a bare array.

    Without PageInfo the pages run until a short one. A PageInfo that is there but
    unreadable is a parse error, as for every provider that pages: a month is never
    cut short on a guess.
    """
    if isinstance(page, list):
        return page, None
    if not isinstance(page, dict) or not isinstance(page.get("Records"), list):
        raise CollectorError("parse", "Stats API: response has no Records list")
    info = page.get("PageInfo")
    if info is None:
        return page["Records"], None
    count = info.get("PageCount") if isinstance(info, dict) else "no object"
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise CollectorError("parse", f"Stats API: unreadable paging (PageCount {count!r:.40})")
    # PageCount is only filled in on page 0; later pages say 0.
    return page["Records"], count or None


def in_month(days: Iterable[Day], first: date) -> list[Day]:
    """The days of one calendar month, one record per (bucket, day): the last one sent wins."""
    last = next_month_start(datetime(first.year, first.month, 1, tzinfo=UTC)).date()
    kept = {(d.bucket, d.day): d for d in days if first <= d.day < last}
    return sorted(kept.values(), key=lambda d: (d.day, d.bucket or ""))


def usage(days: list[Day]) -> dict[str, Decimal]:
    """Usage metrics of one series of days: levels of the latest day, counters summed."""
    if not days:
        return {}
    latest_day = max(d.day for d in days)
    latest = [d for d in days if d.day == latest_day]
    result: dict[str, Decimal] = {}
    for field, metric in LEVELS.items():
        if all(field in d.values for d in latest):
            result[metric] = sum((d.values[field] for d in latest), Decimal(0))
    result["billable_storage_bytes"] = sum((d.active + d.deleted for d in latest), Decimal(0))
    for field, metric in COUNTERS.items():
        present = [d.values[field] for d in days if field in d.values]
        if present:
            result[metric] = sum(present, Decimal(0))
    return result


def estimate_spend(days: list[Day], price_per_tb_month: Decimal, minimum_tb: Decimal) -> Decimal:
    """Accrued storage charge of one month's account records (formula in the module doc)."""
    active = sum((d.active for d in days), Decimal(0)) / TB
    deleted = sum((d.deleted for d in days), Decimal(0)) / TB
    tb_days = max(active, minimum_tb * len(days)) + deleted
    per_tb_day = price_per_tb_month / DAYS_PER_PRICED_MONTH
    return (per_tb_day * tb_days).quantize(Decimal("0.000001"))


def daily_estimate(
    days: list[Day], price_per_tb_month: Decimal, minimum_tb: Decimal
) -> dict[date, Decimal]:
    """Each day's share of the month's estimate: the estimate up to that day minus the one
    before it, so the days add up exactly to the month-to-date figure on every day."""
    shares: dict[date, Decimal] = {}
    before = Decimal(0)
    for count, day in enumerate(days, start=1):
        through = estimate_spend(days[:count], price_per_tb_month, minimum_tb)
        shares[day.day] = through - before
        before = through
    return shares


def add_daily(into: DailySpend, days: list[Day], config: Config) -> None:
    shares = daily_estimate(days, config.price_per_tb_month, config.minimum_tb)
    for day, amount in shares.items():
        into.add(day, SERVICE, Money(amount, config.currency))


async def fetch_days(
    config: Config, ctx: Context, path: str, first: date, to: date, *, bucket: bool
) -> list[Day]:
    # Wasabi's scheme: the key pair itself, unsigned. Only ever sent as this header.
    auth = f"{config.access_key.get_secret_value()}:{config.secret_key.get_secret_value()}"
    headers = {"Authorization": auth}
    days: list[Day] = []
    received = 0
    number, count = 0, None

    def next_page(page: Any) -> str | None:
        """pageNum of the next page: pages run until a short one, or to the PageCount that
        only the first page states."""
        nonlocal number, count
        records, stated = records_of(page)
        count, number = count or stated, number + 1
        last = len(records) < PAGE_SIZE or (count is not None and number >= count)
        return None if last else str(number)

    params = {"from": first.isoformat(), "to": to.isoformat(), "pageNum": 0, "pageSize": PAGE_SIZE}
    async for page in ctx.http.paginate(
        config.base_url + path,
        params=params,
        headers=headers,
        next_cursor=next_page,
        cursor_param="pageNum",
        max_pages=MAX_PAGES,
    ):
        records, _ = records_of(page)
        received += len(records)
        for raw in records:
            try:
                days.append(parse_record(raw, bucket=bucket))
            except BadRecord as exc:
                ctx.skip("wasabi_record", str(exc))
    if received and not days:
        # Nothing readable is not "no usage": a 0 here would be a lie.
        raise CollectorError("parse", f"GET {path}: none of {received} records readable")
    return in_month(days, first)


def s3_region(config: Config) -> str:
    if config.region:
        return config.region
    match = re.match(r"^https?://s3\.([a-z]{2}-[a-z]+-\d)\.wasabisys\.com", config.endpoint_url)
    return match[1] if match else "us-east-1"


def bucket_inventory(config: Config) -> dict[str, str]:
    """Bucket name -> region over S3. Blocking: run it in a thread.

    boto3 is imported here, not at module level: it costs tens of MB and an
    exporter without a Wasabi inventory must not pay for it.
    """
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=s3_region(config),
        aws_access_key_id=config.access_key.get_secret_value(),
        aws_secret_access_key=config.secret_key.get_secret_value(),
        config=BotoConfig(
            connect_timeout=10, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
        ),
    )
    operation = "ListBuckets"
    try:
        names = [b["Name"] for b in client.list_buckets().get("Buckets", []) if "Name" in b]
        regions: dict[str, str] = {}
        operation = "GetBucketLocation"
        for name in names:
            try:
                location = client.get_bucket_location(Bucket=name).get("LocationConstraint")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                    continue  # deleted between the two calls
                raise
            # S3's convention: no constraint means the default region.
            regions[name] = location or "us-east-1"
        return regions
    except (BotoCoreError, ClientError) as exc:
        raise s3_error(exc, f"S3 {operation}") from None
    finally:
        client.close()


def inventory_usage(regions: Mapping[str, str], with_stats: set[str] | None) -> dict[str, Decimal]:
    """Bucket counts; `with_stats` is None when per-bucket stats were not read."""
    result = {
        "buckets": Decimal(len(regions)),
        "bucket_regions": Decimal(len(set(regions.values()))),
    }
    if with_stats is not None:
        # Usually buckets created today: the Stats API reports a day once it has ended.
        result["buckets_without_stats"] = Decimal(len(set(regions) - with_stats))
    return result


def bucket_samples(buckets: list[Day]) -> list[Sample]:
    by_bucket: dict[str, list[Day]] = {}
    for day in buckets:
        by_bucket.setdefault(day.bucket or "", []).append(day)
    latest = max((d.day for d in buckets), default=None)
    samples = []
    for name, days in sorted(by_bucket.items()):
        metrics = usage(days)
        if max(d.day for d in days) != latest:
            # A bucket missing from the latest day is gone: its old levels are not today's.
            metrics = {m: v for m, v in metrics.items() if m in COUNTERS.values()}
        samples += [
            Sample.of(catalog.BUCKET_USAGE, v, bucket=name, metric=m) for m, v in metrics.items()
        ]
    return samples


async def collect(config: Config, ctx: Context) -> list[Sample]:
    this_month = ctx.month_start.date()
    last_month = ctx.previous_month_start.date()
    today = ctx.now.astimezone(UTC).date()
    current = await fetch_days(config, ctx, ACCOUNT_PATH, this_month, today, bucket=False)
    # `to` is read up to the 1st, in case the API treats it as exclusive; in_month trims.
    previous = await fetch_days(config, ctx, ACCOUNT_PATH, last_month, this_month, bucket=False)
    buckets: list[Day] = []
    if config.bucket_stats:
        buckets = await fetch_days(config, ctx, BUCKET_PATH, this_month, today, bucket=True)

    samples = []
    daily = DailySpend(source="estimated")
    for family, days in ((catalog.MONTH_TO_DATE, current), (catalog.PREVIOUS_MONTH, previous)):
        spend = estimate_spend(days, config.price_per_tb_month, config.minimum_tb)
        money = Money(spend, config.currency)
        samples.append(
            Sample.of(
                family,
                money,
                service_name=SERVICE,
                source="estimated",
                charge_frequency=catalog.USAGE_BASED,
            )
        )
        add_daily(daily, days, config)
    samples += daily.completed(today)

    account_usage = usage(current)
    if config.inventory:
        regions = await asyncio.to_thread(bucket_inventory, config)
        with_stats = {d.bucket for d in buckets if d.bucket} if config.bucket_stats else None
        account_usage |= inventory_usage(regions, with_stats)
        ctx.log.debug("wasabi_inventory", buckets=dict(regions))
    samples += [Sample.of(catalog.USAGE, v, metric=m) for m, v in account_usage.items()]
    return samples + bucket_samples(buckets)


async def history(config: Config, ctx: Context, start: datetime, end: datetime) -> list[Sample]:
    """Estimated daily storage spend over [start, end), one month of account records per
    request (100 records a page), priced exactly as the live month-to-date."""
    daily = DailySpend(source="estimated")
    month = month_start(start)
    while month < end:
        following = next_month_start(month)
        first, to = month.date(), min(following, end).date()
        days = await fetch_days(config, ctx, ACCOUNT_PATH, first, to, bucket=False)
        add_daily(daily, days, config)
        month = following
    return daily.history(utc_day(start), utc_day(end))


PROVIDER = ProviderSpec(
    name="wasabi",
    config_model=Config,
    collect=collect,
    history=history,
    summary="Wasabi storage, objects and traffic from the Stats API; spend estimated per TB-day.",
    env={
        "access_key": "WASABI_ACCESS_KEY",
        "secret_key": "WASABI_SECRET_KEY",
        "endpoint_url": "WASABI_ENDPOINT_URL",
        "base_url": "WASABI_STATS_URL",
    },
)
