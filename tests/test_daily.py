"""Daily burn: `cost_last_day` derived by the core from any provider's daily spend,
and the absolute daily cap `cost_daily_budget` from the config."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from cost_exporter import catalog
from cost_exporter.daily import DailySpend
from cost_exporter.errors import ConfigError
from cost_exporter.exposition import render
from cost_exporter.figures import derive
from cost_exporter.samples import Money, Sample
from cost_exporter.settings import Budget, Config
from cost_exporter.snapshot import AccountState, Snapshot
from tests.fakes import fake_provider, make_config, make_refresher

COLLECTED = datetime(2026, 11, 23, 0, 5, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def config(*budgets: Budget, fx: dict[str, Decimal] | None = None) -> Config:
    return Config(
        source="test",
        reporting_currency="USD",
        fx_rates=fx or {},
        budgets=budgets,
        accounts=(),
    )


def daily(
    day: str, amount: str, currency: str = "USD", frequency: str = catalog.USAGE_BASED
) -> Sample:
    return Sample.of(
        catalog.DAILY_SPEND, Money.of(amount, currency), day=day, charge_frequency=frequency
    )


def state(*samples: Sample, collected: datetime = COLLECTED) -> AccountState:
    ts = collected.timestamp()
    return AccountState(
        "openai", "default", samples=samples, up=True, last_success=ts, last_attempt=ts
    )


def last_day(snapshot_state: AccountState, cfg: Config | None = None) -> tuple[object, object]:
    series = derive(Snapshot({snapshot_state.key: snapshot_state}), cfg or config(), LATER)
    value = series.get(catalog.LAST_DAY, {}).get(("openai", "default", "USD"))
    stamp = series.get(catalog.LAST_DAY_TIMESTAMP, {}).get(("openai", "default"))
    return value, stamp


def midnight(day: date) -> Decimal:
    return Decimal(int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()))


# --- cost_last_day ------------------------------------------------------------------


def test_last_day_is_the_latest_day_before_the_collection_day() -> None:
    value, stamp = last_day(
        state(daily("2026-11-20", "3"), daily("2026-11-22", "41.5"), daily("2026-11-21", "2"))
    )
    assert value == Decimal("41.5")
    assert stamp == midnight(date(2026, 11, 22))


def test_the_day_still_running_at_collection_is_not_a_complete_day() -> None:
    value, stamp = last_day(state(daily("2026-11-22", "5"), daily("2026-11-23", "900")))
    assert (value, stamp) == (Decimal(5), midnight(date(2026, 11, 22)))


def test_a_quiet_day_without_figures_leaves_the_older_day_and_says_which_it_is() -> None:
    value, stamp = last_day(state(daily("2026-11-19", "7")))
    assert (value, stamp) == (Decimal(7), midnight(date(2026, 11, 19)))


def test_without_daily_figures_there_is_no_series_never_a_zero() -> None:
    monthly = Sample.of(
        catalog.MONTH_TO_DATE,
        Money.of(3, "USD"),
        service_name="x",
        source="api",
        charge_frequency=catalog.USAGE_BASED,
    )
    assert last_day(state(monthly)) == (None, None)
    assert last_day(state(daily("2026-11-23", "1"))) == (None, None)


def test_daily_amounts_are_converted_and_summed_per_day_across_currencies() -> None:
    cfg = config(fx={"EUR": Decimal("1.10")})
    value, _ = last_day(state(daily("2026-11-22", "10", "EUR"), daily("2026-11-22", "1")), cfg)
    assert value == Decimal("12.00")


def test_a_plan_fee_or_a_credit_is_not_a_days_burn() -> None:
    value, stamp = last_day(
        state(
            daily("2026-11-21", "3"),
            daily("2026-11-22", "1.5"),
            daily("2026-11-22", "20", frequency=catalog.RECURRING),
            daily("2026-11-22", "-50", frequency=catalog.ONE_TIME),
        )
    )
    assert (value, stamp) == (Decimal("1.5"), midnight(date(2026, 11, 22)))


def test_a_day_with_only_a_plan_fee_leaves_the_last_day_of_usage() -> None:
    value, stamp = last_day(
        state(daily("2026-11-21", "3"), daily("2026-11-22", "20", frequency=catalog.RECURRING))
    )
    assert (value, stamp) == (Decimal(3), midnight(date(2026, 11, 21)))


def test_a_day_label_that_is_not_a_date_is_ignored_not_fatal() -> None:
    value, _ = last_day(state(daily("yesterday", "5"), daily("2026-11-21", "2")))
    assert value == Decimal(2)


def test_the_first_of_the_month_shows_the_last_day_of_the_previous_month() -> None:
    on_the_1st = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    value, stamp = last_day(state(daily("2026-11-30", "8"), collected=on_the_1st))
    assert (value, stamp) == (Decimal(8), midnight(date(2026, 11, 30)))


def test_daily_spend_itself_is_never_published() -> None:
    text = render(
        derive(Snapshot({("openai", "default"): state(daily("2026-11-22", "4"))}), config(), LATER)
    )
    body = text.text.decode()
    assert catalog.DAILY_SPEND.name not in body
    assert 'cost_last_day{account="default",currency="USD",provider="openai"} 4.0' in body
    [line] = [x for x in body.splitlines() if x.startswith("cost_last_day_timestamp_seconds{")]
    assert float(line.split(" ")[1]) == midnight(date(2026, 11, 22))


async def test_a_provider_reporting_daily_spend_shows_cost_last_day_on_metrics(
    tmp_path: Path,
) -> None:
    with fake_provider() as fakes:
        fakes.returns("default", [daily("2026-11-22", "12.5")])
        cfg = make_config(tmp_path, "providers: {fake: [{}]}\n")
        refresher = make_refresher(tmp_path, cfg, clock=lambda: COLLECTED)
        await refresher.refresh()
        await refresher.http.aclose()
    body = refresher.rendered.text.decode()
    assert 'cost_last_day{account="default",currency="USD",provider="fake"} 12.5' in body


# --- cost_daily_budget ----------------------------------------------------------------


def test_a_daily_cap_is_exported_in_the_reporting_currency() -> None:
    series = derive(Snapshot(), config(Budget(provider="openai", daily=Decimal(20))), LATER)
    assert series[catalog.DAILY_BUDGET] == {("openai", "default", "USD"): Decimal(20)}
    assert catalog.BUDGET not in series


def test_daily_caps_are_off_unless_configured(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, "budgets: [{provider: vercel, monthly: 20}]\n")
    series = derive(Snapshot(), cfg, LATER)
    assert catalog.DAILY_BUDGET not in series
    assert series[catalog.BUDGET] == {("vercel", "default", "USD"): Decimal(20)}


def test_a_daily_cap_comes_from_the_config_file(tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path, "budgets: [{provider: openai, account: team, monthly: 300, daily: 25}]\n"
    )
    [budget] = cfg.budgets
    assert (budget.daily, budget.monthly) == (Decimal(25), Decimal(300))


def test_a_negative_daily_cap_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"budgets\.0\.daily"):
        make_config(tmp_path, "budgets: [{provider: openai, daily: -1}]\n")


# --- the accumulator providers share ---------------------------------------------------


def test_daily_spend_keeps_complete_days_and_splits_history_by_service() -> None:
    days = DailySpend()
    days.add(date(2026, 11, 21), "A", Money.of("1.5", "USD"))
    days.add(date(2026, 11, 21), "B", Money.of("-0.5", "USD"))
    days.add(date(2026, 11, 22), "A", Money.of("2", "USD"))
    completed = days.completed(date(2026, 11, 22))
    assert [(s.label("day"), s.value) for s in completed] == [("2026-11-21", Decimal(1))]
    history = days.history(date(2026, 11, 21), date(2026, 11, 23))
    per_service = [
        (s.label("day"), s.label("service_name"), s.value)
        for s in history
        if s.family is catalog.DAILY_SERVICE_SPEND
    ]
    assert per_service == [
        ("2026-11-21", "A", Decimal("1.5")),
        ("2026-11-21", "B", Decimal("-0.5")),
        ("2026-11-22", "A", Decimal(2)),
    ]
