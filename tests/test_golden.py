"""The /metrics bytes for a fixed snapshot are the contract: any change shows up here.

Regenerate after an intended change with `UPDATE_GOLDEN=1 make test`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from cost_exporter import catalog
from cost_exporter.exposition import render
from cost_exporter.figures import derive
from cost_exporter.samples import Money, Sample
from cost_exporter.schedule import Schedule
from cost_exporter.settings import Budget, Config
from cost_exporter.snapshot import AccountState, Snapshot

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
COLLECTED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC).timestamp()


def daily(day: str, amount: str, frequency: str) -> Sample:
    return Sample.of(
        catalog.DAILY_SPEND, Money.of(amount, "USD"), day=day, charge_frequency=frequency
    )


def fixed_snapshot() -> Snapshot:
    vercel = AccountState(
        "vercel",
        "main",
        samples=(
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money.of("12.34", "USD"),
                service_name="Function Invocations",
                source="api",
                charge_frequency=catalog.USAGE_BASED,
            ),
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money.of("20", "USD"),
                service_name="Pro Plan",
                source="api",
                charge_frequency=catalog.RECURRING,
            ),
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money.of("-2", "USD"),
                service_name="Credits",
                source="api",
                charge_frequency=catalog.ONE_TIME,
            ),
            Sample.of(
                catalog.PREVIOUS_MONTH,
                Money.of("30.5", "USD"),
                service_name="Function Invocations",
                source="api",
                charge_frequency=catalog.USAGE_BASED,
            ),
            Sample.of(catalog.USAGE, Decimal(1226000), metric="function_invocations"),
            Sample.of(catalog.PROJECT_MONTH_TO_DATE, Money.of("10.34", "USD"), project="web"),
            daily("2026-11-01", "20", catalog.RECURRING),
            daily("2026-11-21", "0.75", catalog.USAGE_BASED),
            daily("2026-11-22", "1.25", catalog.USAGE_BASED),
        ),
        up=True,
        last_success=COLLECTED,
        last_attempt=COLLECTED,
        duration_s=0.42,
    )
    manual = AccountState(
        "manual",
        "default",
        samples=(
            Sample.of(
                catalog.MONTH_TO_DATE,
                Money.of(6, "EUR"),
                provider="ionos",
                service_name="VPS",
                source="manual",
                charge_frequency=catalog.RECURRING,
            ),
        ),
        up=True,
        last_success=COLLECTED,
        last_attempt=COLLECTED,
        duration_s=0.001,
    )
    openai = AccountState(
        "openai",
        "default",
        up=False,
        last_attempt=COLLECTED,
        duration_s=3.0,
        last_error="GET api.openai.com/v1/organization/costs: HTTP 401",
        errors={**dict.fromkeys(catalog.ERROR_REASONS, 0), "auth": 2},
    )
    return Snapshot({s.key: s for s in (vercel, manual, openai)})


def fixed_config() -> Config:
    return Config(
        source="test",
        reporting_currency="USD",
        fx_rates={"EUR": Decimal("1.08")},
        budgets=(
            Budget(
                provider="vercel",
                account="main",
                monthly=Decimal(20),
                daily=Decimal(2),
                usage_limits={"function_invocations": Decimal(1000000)},
            ),
        ),
        accounts=(),
    )


def test_metrics_text_matches_the_golden_file() -> None:
    schedule = Schedule(refresh_interval_s=86400, retry_interval_s=3600)
    text = render(derive(fixed_snapshot(), fixed_config(), NOW, schedule)).text.decode()
    golden = GOLDEN / "metrics.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), "run UPDATE_GOLDEN=1 make test after an intended change"


def test_forecast_extrapolates_usage_but_not_plan_fees_credits_or_fixed_bills() -> None:
    text = render(derive(fixed_snapshot(), fixed_config(), NOW)).text.decode()
    # vercel: usage 12.34 over 22 completed days of a 30-day month = 16.827272...,
    # plus the 20 plan fee and the -2 credit as they are; ionos: 6 EUR x 1.08, as is
    assert 'cost_forecast_month_end{account="main",currency="USD",provider="vercel"} 34.827' in text
    # yesterday's burn is the usage of the 22nd, not the plan fee of the 1st
    assert 'cost_last_day{account="main",currency="USD",provider="vercel"} 1.25' in text
    assert 'cost_forecast_month_end{account="default",currency="USD",provider="ionos"} 6.48' in text


def test_series_of_a_family_never_overlap() -> None:
    text = render(derive(fixed_snapshot(), fixed_config(), NOW)).text.decode()
    lines = [line.split(" ")[0] for line in text.splitlines() if not line.startswith("#")]
    assert len(lines) == len(set(lines))
