from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cost_exporter import catalog, focus_records
from cost_exporter.errors import CollectorError, ConfigError
from cost_exporter.health import Outcome
from cost_exporter.providers import focus
from cost_exporter.s3 import s3_errors
from tests.helpers import FIXTURES, NOW, config_for, run_provider, values

OVH = FIXTURES / "focus" / "ovhcloud_focus_1_0.csv"
AWS = FIXTURES / "focus" / "aws_focus_1_3.csv"
RATES = {"EUR": "1.1"}
REPO = Path(__file__).resolve().parents[2]


def by_key(outcome: Outcome, family: catalog.Family) -> dict[tuple[str, str], Decimal]:
    """{(provider, service_name): amount} of one family, every charge frequency summed."""
    assert outcome.samples is not None, outcome.error_message
    found: dict[tuple[str, str], Decimal] = {}
    for k, v in values(outcome.samples, family).items():
        key = (dict(k)["provider"], dict(k)["service_name"])
        found[key] = found.get(key, Decimal(0)) + v
    return found


async def test_the_charge_frequency_comes_from_the_file_and_a_credit_or_tax_is_never_usage(
    folder: Path, tmp_path: Path
) -> None:
    config = config_for(focus.PROVIDER, [{"path": str(folder)}], fx_rates=RATES, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.samples is not None, outcome.error_message
    found = {
        (dict(k)["service_name"], dict(k)["charge_frequency"]): v
        for k, v in values(outcome.samples, catalog.MONTH_TO_DATE).items()
        if dict(k)["provider"] == "ovhcloud" or dict(k)["service_name"] == "Tax"
    }
    assert found == {
        ("Public Cloud Instances", "usage_based"): Decimal("15.00"),
        ("Public Cloud Instances", "one_time"): Decimal("-2.00"),  # the voucher
        ("Object Storage", "usage_based"): Decimal("1.20"),
        ("Tax", "one_time"): Decimal("1.10"),
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A FOCUS 1.0 file at the top, a gzipped FOCUS 1.3 file in a sub-folder."""
    root = tmp_path / "exports"
    (root / "aws" / "2026-11").mkdir(parents=True)
    shutil.copy(OVH, root / OVH.name)
    (root / "aws" / "2026-11" / "focus.csv.gz").write_bytes(gzip.compress(AWS.read_bytes()))
    (root / "README.txt").write_text("not a FOCUS file, ignored")
    return root


async def test_a_folder_of_focus_1_0_and_1_3_files_gives_spend_by_provider_and_service(
    folder: Path, tmp_path: Path
) -> None:
    config = config_for(focus.PROVIDER, [{"path": str(folder)}], fx_rates=RATES, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    # OVH instances: 10.50 + 4.50 minus a 2.00 voucher; the tax row has no ServiceName.
    assert by_key(outcome, catalog.MONTH_TO_DATE) == {
        ("ovhcloud", "Public Cloud Instances"): Decimal("13.00"),
        ("ovhcloud", "Object Storage"): Decimal("1.20"),
        ("amazon_web_services", "Amazon Simple Storage Service"): Decimal("3.25"),
        ("amazon_web_services", "Amazon Elastic Compute Cloud"): Decimal("7.75"),
        ("amazon_web_services", "Tax"): Decimal("1.10"),
    }
    currencies = {s.label("provider"): s.currency for s in outcome.samples or ()}
    assert currencies == {"ovhcloud": "EUR", "amazon_web_services": "USD"}
    assert {s.label("source") for s in outcome.samples or ()} == {"api"}


async def test_the_previous_month_is_kept_and_older_months_are_left_out(
    folder: Path, tmp_path: Path
) -> None:
    config = config_for(focus.PROVIDER, [{"path": str(folder)}], fx_rates=RATES, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    # September's 99.00 is neither this month nor the previous one.
    assert by_key(outcome, catalog.PREVIOUS_MONTH) == {
        ("ovhcloud", "Public Cloud Instances"): Decimal("30.00"),
        ("amazon_web_services", "Amazon Elastic Compute Cloud"): Decimal("5.00"),
    }


async def test_a_malformed_row_is_counted_and_skipped(folder: Path, tmp_path: Path) -> None:
    config = config_for(focus.PROVIDER, [{"path": str(folder)}], fx_rates=RATES, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.ok
    assert outcome.skipped_records == 1  # BilledCost "n/a"


async def test_provider_label_overrides_the_provider_name(tmp_path: Path) -> None:
    root = tmp_path / "ovh"
    root.mkdir()
    shutil.copy(OVH, root / OVH.name)
    config = config_for(
        focus.PROVIDER,
        [{"path": str(root), "provider_label": "ovh"}],
        fx_rates=RATES,
        tmp_path=tmp_path,
    )
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert {s.label("provider") for s in outcome.samples or ()} == {"ovh"}


async def test_a_missing_folder_fails_with_reason_config(tmp_path: Path) -> None:
    config = config_for(focus.PROVIDER, env={"FOCUS_PATH": str(tmp_path / "nope")})
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.error_reason == "config"
    assert "nope" in (outcome.error_message or "")


async def test_a_folder_without_any_csv_is_reported_as_empty(tmp_path: Path) -> None:
    config = config_for(focus.PROVIDER, env={"FOCUS_PATH": str(tmp_path)})
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.error_reason == "empty"


async def test_a_csv_without_focus_columns_is_a_parse_error(tmp_path: Path) -> None:
    (tmp_path / "bills.csv").write_text("date,amount\n2026-11-02,4.20\n")
    config = config_for(focus.PROVIDER, env={"FOCUS_PATH": str(tmp_path)})
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.error_reason == "parse"
    assert "BilledCost" in (outcome.error_message or "")


@pytest.mark.parametrize(
    "account",
    [{}, {"path": "/tmp/x", "s3_uri": "s3://bucket/focus"}, {"s3_uri": "https://bucket"}],
)
def test_config_needs_exactly_one_valid_source(account: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        config_for(focus.PROVIDER, [account], tmp_path=tmp_path)


def test_reading_a_local_folder_never_imports_boto3(folder: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from cost_exporter.providers import focus\n"
        "from tests.helpers import NOW, config_for, run_provider\n"
        f"config = config_for(focus.PROVIDER, env={{'FOCUS_PATH': {str(folder)!r}}})\n"
        "[outcome] = asyncio.run(run_provider(focus.PROVIDER, config, NOW))\n"
        "assert outcome.error_reason == 'config', outcome  # EUR without a rate: it ran\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'exporter'}"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- S3 (moto) --------------------------------------------------------------------------------

BUCKET = "ovh-focus-exports"


@pytest.fixture
def s3() -> Iterator[None]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="focus/2026-11/ovh.csv", Body=OVH.read_bytes())
        client.put_object(
            Bucket=BUCKET, Key="focus/2026-11/aws.csv.gz", Body=gzip.compress(AWS.read_bytes())
        )
        client.put_object(Bucket=BUCKET, Key="focus/manifest.json", Body=b"{}")
        # Outside the prefix: must not be read.
        client.put_object(Bucket=BUCKET, Key="focus-old/ovh.csv", Body=OVH.read_bytes())
        yield


S3_ACCOUNT = {
    "s3_uri": f"s3://{BUCKET}/focus",
    "region": "us-east-1",
    "access_key_id_env": "KEY_ID",
    "secret_access_key_env": "SECRET",
}
S3_ENV = {"KEY_ID": "AKIAEXAMPLE", "SECRET": "s3-secret-do-not-leak"}


async def test_an_s3_prefix_is_read_like_a_folder(s3: None, tmp_path: Path) -> None:
    config = config_for(focus.PROVIDER, [S3_ACCOUNT], env=S3_ENV, fx_rates=RATES, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.ok, outcome.error_message
    mtd = by_key(outcome, catalog.MONTH_TO_DATE)
    assert mtd[("ovhcloud", "Public Cloud Instances")] == Decimal("13.00")
    assert mtd[("amazon_web_services", "Amazon Elastic Compute Cloud")] == Decimal("7.75")
    assert outcome.skipped_records == 1


async def test_a_missing_bucket_fails_with_reason_config(s3: None, tmp_path: Path) -> None:
    account = {**S3_ACCOUNT, "s3_uri": "s3://no-such-bucket/focus"}
    config = config_for(focus.PROVIDER, [account], env=S3_ENV, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.error_reason == "config"
    assert "s3-secret-do-not-leak" not in (outcome.error_message or "")


async def test_an_empty_s3_prefix_is_reported_as_empty(s3: None, tmp_path: Path) -> None:
    account = {**S3_ACCOUNT, "s3_uri": f"s3://{BUCKET}/nothing-here"}
    config = config_for(focus.PROVIDER, [account], env=S3_ENV, tmp_path=tmp_path)
    [outcome] = await run_provider(focus.PROVIDER, config, NOW)
    assert outcome.error_reason == "empty"


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("AccessDenied", 403, "auth"),
        ("InvalidAccessKeyId", 403, "auth"),
        ("NoSuchBucket", 404, "config"),
        ("SlowDown", 503, "rate_limited"),  # as for Wasabi: one mapping for every S3 reader
        ("InternalError", 500, "http_5xx"),
    ],
)
def test_s3_errors_become_countable_reasons(code: str, status: int, reason: str) -> None:
    from botocore.exceptions import ClientError

    error = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    with pytest.raises(CollectorError) as caught, s3_errors("S3 list s3://b/p/"):
        raise ClientError(error, "ListObjectsV2")  # type: ignore[arg-type]
    assert caught.value.reason == reason
    assert code in str(caught.value)


@pytest.mark.parametrize(
    ("frequency", "category", "label"),
    [
        ("Usage-Based", "Usage", "usage_based"),
        ("", "Usage", "usage_based"),  # Vercel sends no ChargeFrequency
        ("", "", "usage_based"),
        ("Recurring", "Usage", "recurring"),
        ("One-Time", "Usage", "one_time"),
        ("recurring", "Purchase", "recurring"),  # a monthly plan bought as a purchase
        ("", "Purchase", "one_time"),
        ("Usage-Based", "Purchase", "one_time"),  # a purchase never grows with use
        ("Usage-Based", "Credit", "one_time"),
        ("Usage-Based", "Tax", "one_time"),
        ("", "Adjustment", "one_time"),
        ("Dynamic", "Usage", "usage_based"),  # an unknown frequency follows the category
    ],
)
def test_a_records_charge_frequency_follows_focus_and_never_makes_a_purchase_usage(
    frequency: str, category: str, label: str
) -> None:
    assert focus_records.charge_frequency(frequency, category) == label
