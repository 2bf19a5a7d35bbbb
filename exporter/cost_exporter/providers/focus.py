"""FOCUS import: spend from FOCUS 1.0-1.3 CSV exports in a local folder or an S3 prefix.

For providers that publish FOCUS files but have no API this exporter reads
(OVHcloud exports FOCUS to S3, for example). Every `*.csv` and `*.csv.gz`
under the folder or prefix is read; `BilledCost` is summed by `ProviderName`
(`ServiceProviderName` in 1.3), `ServiceName` and charge frequency (from
`ChargeFrequency` and `ChargeCategory`: purchases, credits, taxes and adjustments
are never usage), for this month and the previous one by `ChargePeriodStart`,
in each row's `BillingCurrency`.
Reading S3 needs only `s3:ListBucket` on the prefix and `s3:GetObject` on
its objects; without keys in the config boto3 uses its usual credential chain.

    cost_month_to_date{provider="ovhcloud",account="default",service_name="Public Cloud Instances",currency="USD",source="api",charge_frequency="usage_based"} 13.0
    cost_month_to_date{provider="amazon_web_services",account="default",service_name="Tax",currency="USD",source="api",charge_frequency="one_time"} 1.1
    cost_previous_month{provider="ovhcloud",account="default",service_name="Public Cloud Instances",currency="USD",source="api",charge_frequency="usage_based"} 30.0

Each file is summed as it is: point the folder at one export per billing
period (exports that overwrite their month's file), and do not import files
of a provider that a collector already reads, or its spend counts twice.
Parquet exports are not read.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import zlib
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr, model_validator

from cost_exporter import catalog
from cost_exporter.errors import CollectorError
from cost_exporter.focus_records import (
    PROVIDER_COLUMNS,
    REQUIRED_COLUMNS,
    FocusRecord,
    parse_record,
    snake,
)
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.s3 import s3_errors
from cost_exporter.samples import BadRecord, Money, Sample
from cost_exporter.settings import AccountConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LABEL = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
SUFFIXES = (".csv", ".csv.gz")
Totals = dict[tuple[int, int], dict[tuple[str, str, str, str], Decimal]]
"""(year, month) -> (provider, service_name, charge_frequency, currency) -> BilledCost"""


class Config(AccountConfig):
    path: Path | None = None
    s3_uri: str | None = Field(None, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?$")
    endpoint_url: str | None = Field(None, pattern=r"^https?://")
    region: str | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    provider_label: str | None = Field(None, pattern=LABEL)
    """Overrides the provider label otherwise taken from each row's ProviderName."""

    def vendors(self) -> frozenset[str]:
        return frozenset([self.provider_label] if self.provider_label else [])

    @model_validator(mode="after")
    def _one_source(self) -> Config:
        if (self.path is None) == (self.s3_uri is None):
            raise ValueError("give exactly one of path (a local folder) or s3_uri")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        return self


def parse_csv(
    name: str, data: bytes, ctx: Context, label: str | None
) -> Iterator[tuple[str, FocusRecord]]:
    """(provider label, record) of each readable row; bad rows are counted and skipped."""
    try:
        text = (gzip.decompress(data) if name.lower().endswith(".gz") else data).decode("utf-8-sig")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise CollectorError("parse", f"{name}: unreadable ({type(exc).__name__})") from None
    rows = csv.DictReader(io.StringIO(text, newline=""))
    columns = set(rows.fieldnames or ())
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise CollectorError("parse", f"{name}: not a FOCUS file, no column {', '.join(missing)}")
    if label is None and not columns & set(PROVIDER_COLUMNS):
        raise CollectorError("parse", f"{name}: no ProviderName column; set provider_label")
    for line, row in enumerate(rows, start=2):
        try:
            record = parse_record(row)
            provider = label or snake(record.provider_name)[:64]
            if not provider:
                raise BadRecord("empty ProviderName")
        except BadRecord as exc:
            ctx.skip("focus_row", f"{name}:{line}: {exc}")
            continue
        yield provider, record


def add_up(records: Iterator[tuple[str, FocusRecord]], totals: Totals) -> None:
    for provider, record in records:
        key = (provider, record.service_name, record.charge_frequency, record.currency)
        totals[record.month][key] += record.billed_cost


async def collect(config: Config, ctx: Context) -> list[Sample]:
    totals: Totals = defaultdict(lambda: defaultdict(Decimal))
    if config.path is not None:
        for file in await asyncio.to_thread(local_files, config.path):
            data = await asyncio.to_thread(read_local, file)
            add_up(parse_csv(str(file), data, ctx, config.provider_label), totals)
    else:
        folder = await asyncio.to_thread(S3Folder, config)
        for key in await asyncio.to_thread(folder.keys):
            data = await asyncio.to_thread(folder.read, key)
            add_up(parse_csv(key, data, ctx, config.provider_label), totals)
    samples = []
    for family, start in (
        (catalog.MONTH_TO_DATE, ctx.month_start),
        (catalog.PREVIOUS_MONTH, ctx.previous_month_start),
    ):
        for (provider, service, frequency, currency), amount in sorted(
            totals[(start.year, start.month)].items()
        ):
            samples.append(
                Sample.of(
                    family,
                    Money(amount, currency),
                    provider=provider,
                    service_name=service,
                    source="api",
                    charge_frequency=frequency,
                )
            )
    return samples


def read_local(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:  # permissions, a file removed meanwhile: the operator's to fix
        reason = exc.strerror or type(exc).__name__
        raise CollectorError("config", f"{file}: cannot read ({reason})") from None


def local_files(root: Path) -> list[Path]:
    if not root.is_dir():
        raise CollectorError("config", f"FOCUS folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))
    if not files:
        raise CollectorError("empty", f"no *.csv or *.csv.gz file under {root}")
    return files


class S3Folder:
    """An S3 prefix read with boto3, imported here only: it costs tens of MB."""

    def __init__(self, config: Config) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        assert config.s3_uri is not None
        bucket, _, prefix = config.s3_uri.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, (prefix.rstrip("/") + "/" if prefix.strip("/") else "")
        self.where = f"s3://{self.bucket}/{self.prefix}"
        keys: dict[str, Any] = {}
        if config.access_key_id and config.secret_access_key:
            keys["aws_access_key_id"] = config.access_key_id.get_secret_value()
            keys["aws_secret_access_key"] = config.secret_access_key.get_secret_value()
        self.client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            config=BotoConfig(connect_timeout=10, read_timeout=60, retries={"mode": "standard"}),
            **keys,
        )

    def keys(self) -> list[str]:
        found = []
        with s3_errors(f"S3 list {self.where}"):
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                found += [
                    o["Key"]
                    for o in page.get("Contents", [])
                    if o["Key"].lower().endswith(SUFFIXES)
                ]
        if not found:
            raise CollectorError("empty", f"no *.csv or *.csv.gz object under {self.where}")
        return sorted(found)

    def read(self, key: str) -> bytes:
        with s3_errors(f"S3 get {self.where}"):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


PROVIDER = ProviderSpec(
    name="focus",
    config_model=Config,
    collect=collect,
    summary="Spend from FOCUS 1.0-1.3 CSV exports in a local folder or an S3 prefix.",
    env={
        "path": "FOCUS_PATH",
        "s3_uri": "FOCUS_S3_URI",
        "endpoint_url": "FOCUS_S3_ENDPOINT_URL",
        "region": "FOCUS_S3_REGION",
        "access_key_id": "FOCUS_S3_ACCESS_KEY_ID",
        "secret_access_key": "FOCUS_S3_SECRET_ACCESS_KEY",
        "provider_label": "FOCUS_PROVIDER_LABEL",
    },
)
