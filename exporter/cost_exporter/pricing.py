"""Prices the exporter ships, each with the date it was checked and where.

The AI price table serves estimates only (cache savings, token costs):
provider-reported money is always the truth; these prices only serve figures
that no provider reports, and every figure computed from them is labelled
`source="estimated"` or lives in an estimate-only family. The table is a data
file (`data/ai_prices.yml`); each model price carries `as_of` (the date it was
last checked) and `source` (the pricing page it was checked against), and
users override or add models under `ai_prices` in a provider account's config.
The exporter publishes the age of the oldest price from its own clock
(`cost_ai_price_table_age_seconds`), so a table nobody updates raises an alert
instead of silently pricing with last year's list.

Other list prices a collector needs (Supabase plans, Wasabi storage) are
`ListPrice`s in their provider module, dated and sourced the same way, and
overridden in the provider account's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from cost_exporter import catalog
from cost_exporter.samples import Sample
from cost_exporter.settings import Strict

PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens, by token type."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    as_of: date | None = None
    """When the shipped price was last checked (None: a user's override)."""
    source: str | None = None
    """The pricing page it was checked against (None: a user's override)."""

    def cache_savings(self, cache_read_tokens: Decimal) -> Decimal:
        if self.cache_read is None:
            return Decimal(0)
        return cache_read_tokens * (self.input - self.cache_read) / PER_MILLION


class PriceOverride(Strict):
    """A user's price for one model (`ai_prices:` in a provider account), USD per million."""

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(None, ge=0)
    cache_write: Decimal | None = Field(None, ge=0)

    def price(self) -> ModelPrice:
        return ModelPrice(self.input, self.output, self.cache_read, self.cache_write)


@dataclass(frozen=True)
class ListPrice:
    """One price from a provider's public price list, with when and where it was checked."""

    amount: Decimal
    as_of: date
    source: str


def _price(raw: Mapping[str, Any], as_of: Any, source: Any) -> ModelPrice:
    def dec(key: str) -> Decimal | None:
        value = raw.get(key)
        return None if value is None else Decimal(str(value))

    input_price, output_price = dec("input"), dec("output")
    if input_price is None or output_price is None:
        raise ValueError("a model price needs input and output")
    checked, page = raw.get("as_of", as_of), raw.get("source", source)
    if not isinstance(checked, date) or not isinstance(page, str) or not page:
        raise ValueError("a model price needs as_of (a date) and a source")
    return ModelPrice(
        input_price, output_price, dec("cache_read"), dec("cache_write"), checked, page
    )


@cache
def shipped_table() -> dict[str, Any]:
    text = resources.files("cost_exporter").joinpath("data/ai_prices.yml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def shipped_prices(provider: str) -> dict[str, ModelPrice]:
    """The shipped table of `provider`, each price with its `as_of` and `source`."""
    table = shipped_table()
    section = table["providers"].get(provider, {})
    return {
        model: _price(raw, table["as_of"], section.get("source"))
        for model, raw in section.get("models", {}).items()
    }


def prices_for(
    provider: str, overrides: Mapping[str, PriceOverride] | None = None
) -> dict[str, ModelPrice]:
    """The shipped table of `provider`, with the user's validated overrides on top."""
    table = shipped_prices(provider)
    table.update({model: override.price() for model, override in (overrides or {}).items()})
    return table


def table_as_of(provider: str | None = None) -> date:
    """The date of the oldest shipped AI price (of `provider`, or of the whole table)."""
    providers = [provider] if provider else list(shipped_table()["providers"])
    return min(
        price.as_of
        for name in providers
        for price in shipped_prices(name).values()
        if price.as_of is not None
    )


def as_of_sample(provider: str) -> Sample:
    """What a collector that priced with the shipped table reports, so the core can publish
    the table's age from its own clock (`cost_ai_price_table_age_seconds`)."""
    checked = table_as_of(provider)
    midnight = datetime(checked.year, checked.month, checked.day, tzinfo=UTC)
    return Sample.of(catalog.AI_PRICE_TABLE_AS_OF, Decimal(int(midnight.timestamp())))


def table_age_seconds(now: datetime, as_of: date | None = None) -> Decimal:
    """Seconds from 00:00 UTC of `as_of` (default: the whole shipped table's) to `now`."""
    checked = as_of or table_as_of()
    midnight = datetime(checked.year, checked.month, checked.day, tzinfo=UTC)
    return Decimal(int((now - midnight).total_seconds()))


def lookup(prices: Mapping[str, ModelPrice], model: str) -> ModelPrice | None:
    """Exact model id first, then the longest known prefix ending at a `-` (so a dated
    snapshot such as `gpt-4o-2024-08-06` takes the `gpt-4o` price, but `o3x` is not `o3`)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(f"{name}-")]
    return prices[max(matches, key=len)] if matches else None
