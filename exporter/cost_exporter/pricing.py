"""The shipped AI price table, for estimates only (cache savings, token costs).

Provider-reported money is always the truth; these prices only serve figures
that no provider reports, and every figure computed from them is labelled
`source="estimated"` or lives in an estimate-only family. The table is a data
file (`data/ai_prices.yml`) with its date and source; users override or add
models under `ai_prices` in a provider account's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from cost_exporter.settings import Strict

PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens, by token type."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

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


def _price(raw: Mapping[str, Any]) -> ModelPrice:
    def dec(key: str) -> Decimal | None:
        value = raw.get(key)
        return None if value is None else Decimal(str(value))

    input_price, output_price = dec("input"), dec("output")
    if input_price is None or output_price is None:
        raise ValueError("a model price needs input and output")
    return ModelPrice(input_price, output_price, dec("cache_read"), dec("cache_write"))


@cache
def shipped_table() -> dict[str, Any]:
    text = resources.files("cost_exporter").joinpath("data/ai_prices.yml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def prices_for(
    provider: str, overrides: Mapping[str, PriceOverride] | None = None
) -> dict[str, ModelPrice]:
    """The shipped table of `provider`, with the user's validated overrides on top."""
    table = {
        model: _price(raw) for model, raw in shipped_table()["providers"].get(provider, {}).items()
    }
    table.update({model: override.price() for model, override in (overrides or {}).items()})
    return table


def lookup(prices: Mapping[str, ModelPrice], model: str) -> ModelPrice | None:
    """Exact model id first, then the longest known prefix ending at a `-` (so a dated
    snapshot such as `gpt-4o-2024-08-06` takes the `gpt-4o` price, but `o3x` is not `o3`)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(f"{name}-")]
    return prices[max(matches, key=len)] if matches else None
