"""Shipped prices say how old they are, and the exporter says it from its own clock.

The AI price table's age is derived here from the injected clock and the table's own
`as_of`, never from the wall clock or a date written into the test: the suite must not
start failing on the day the shipped table turns 45 days old.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cost_exporter import catalog, exposition, figures, pricing
from cost_exporter.errors import ConfigError
from cost_exporter.providers import supabase, wasabi
from cost_exporter.snapshot import AccountState, Snapshot
from tests.fakes import make_config
from tests.helpers import NOW

DAY = 86400


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def priced_snapshot(*providers: str) -> Snapshot:
    """Accounts whose last collection priced tokens with the shipped table."""
    states = {}
    for provider in providers:
        state = AccountState(
            provider,
            "default",
            samples=(pricing.as_of_sample(provider),),
            up=True,
            last_success=NOW.timestamp(),
        )
        states[state.key] = state
    return Snapshot(states)


def age_series(snapshot: Snapshot, config: object, now: datetime) -> dict[str, Decimal]:
    series = figures.derive(snapshot, config, now)  # type: ignore[arg-type]
    return {
        family.name: value
        for family in (catalog.AI_PRICE_TABLE_AGE, catalog.AI_PRICE_TABLE_MAX_AGE)
        for value in series.get(family, {}).values()
    }


def test_every_shipped_price_has_the_date_it_was_checked_and_a_source_page() -> None:
    for provider in pricing.shipped_table()["providers"]:
        prices = pricing.shipped_prices(provider)
        assert prices, provider
        for model, price in prices.items():
            assert isinstance(price.as_of, date), (provider, model)
            assert (price.source or "").startswith("https://"), (provider, model)


def test_a_users_override_carries_no_date_of_its_own() -> None:
    override = pricing.PriceOverride(input=Decimal(1), output=Decimal(2))
    prices = pricing.prices_for("openai", {"gpt-9": override})
    assert (prices["gpt-9"].as_of, prices["gpt-9"].source) == (None, None)
    assert prices["gpt-4o"].as_of == pricing.table_as_of("openai")


@pytest.mark.parametrize("days_later", [0, 30, 44, 46, 400])
def test_the_age_is_counted_from_the_tables_date_to_the_injected_clock(
    tmp_path: Path, days_later: int
) -> None:
    as_of = min(pricing.table_as_of("openai"), pricing.table_as_of("anthropic"))
    now = midnight(as_of) + timedelta(days=days_later, hours=6)
    config = make_config(tmp_path, "{}")
    figures = age_series(priced_snapshot("openai", "anthropic"), config, now)
    assert figures == {
        catalog.AI_PRICE_TABLE_AGE.name: Decimal(days_later * DAY + 6 * 3600),
        catalog.AI_PRICE_TABLE_MAX_AGE.name: Decimal(45 * DAY),
    }
    assert figures[catalog.AI_PRICE_TABLE_AGE.name] == pricing.table_age_seconds(now)


def test_the_limit_comes_from_the_config(tmp_path: Path) -> None:
    config = make_config(tmp_path, "ai_price_table_max_age_days: 90\n")
    ages = age_series(priced_snapshot("openai"), config, NOW)
    assert ages[catalog.AI_PRICE_TABLE_MAX_AGE.name] == Decimal(90 * DAY)
    rendered = exposition.render(
        figures.derive(priced_snapshot("openai"), config, NOW)
    ).text.decode()
    assert "\ncost_ai_price_table_max_age_seconds 7.776e+06\n" in rendered
    assert "cost_ai_price_table_age_seconds " in rendered
    assert catalog.AI_PRICE_TABLE_AS_OF.name not in rendered  # internal: the core's input


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_a_limit_that_is_not_a_positive_number_of_days_is_refused(
    tmp_path: Path, days: str
) -> None:
    with pytest.raises(ConfigError, match="ai_price_table_max_age_days"):
        make_config(tmp_path, f"ai_price_table_max_age_days: {days}\n")


def test_without_a_collector_that_prices_tokens_no_age_is_published(tmp_path: Path) -> None:
    config = make_config(tmp_path, "{}")
    assert age_series(Snapshot({}), config, NOW) == {}


def test_supabase_plan_and_wasabi_storage_prices_are_dated_sourced_and_overridable(
    tmp_path: Path,
) -> None:
    for price in (*supabase.PLAN_PRICES.values(), wasabi.STORAGE_PRICE):
        assert isinstance(price.as_of, date)
        assert price.source.startswith("https://")
    assert supabase.Config(token="t", project_refs="abcdefghijklmnopqrst", plan="pro").monthly_fee
    overridden = supabase.Config(
        token="t", project_refs="abcdefghijklmnopqrst", plan="pro", plan_price=Decimal(30)
    )
    assert overridden.monthly_fee == Decimal(30)
    keys = {"access_key": "a", "secret_key": "b"}
    assert wasabi.Config(**keys).price_per_tb_month == wasabi.STORAGE_PRICE.amount
    assert wasabi.Config(**keys, price_per_tb_month=Decimal("7.99")).price_per_tb_month == Decimal(
        "7.99"
    )
