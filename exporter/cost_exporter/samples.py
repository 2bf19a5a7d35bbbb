"""The plain, typed values a provider returns: no Prometheus in sight.

A provider builds `Sample`s with `Sample.of(catalog.FAMILY, value, **labels)`.
Money is a `Money` (amount + the currency the provider billed in); the
snapshot converts it to the reporting currency in one place. Every amount is
a Decimal, because providers send numbers, strings and cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cost_exporter.catalog import Family


class BadAmount(ValueError):
    """A provider sent something that is not a number."""


class BadRecord(ValueError):
    """One provider record that cannot be used: it is counted as skipped and left out."""


# Amounts reach 1e24 at most: far above any bill, byte count or token count (1e24 bytes
# is a million exabytes), far below where Decimal arithmetic overflows or a float is inf.
MAX_DIGITS = 24


def to_decimal(raw: Any) -> Decimal:
    """Parse a provider amount (int, float, numeric string) exactly.

    Floats go through `str` so 0.1 stays 0.1 instead of 0.1000000000000000055.
    Booleans, None, non-finite values and absurd magnitudes are refused: they never
    mean money, and "1e999999" would overflow the first sum it joins.
    """
    if raw is None or isinstance(raw, bool):
        raise BadAmount(f"not an amount: {raw!r}")
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as exc:
        raise BadAmount(f"not an amount: {raw!r}") from exc
    if not value.is_finite():
        raise BadAmount(f"not a finite amount: {raw!r}")
    if value and value.adjusted() >= MAX_DIGITS:
        raise BadAmount(f"not a plausible amount: {str(raw)[:40]!r}")
    return value


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, raw: Any, currency: str) -> Money:
        return cls(to_decimal(raw), currency.upper())

    @classmethod
    def from_cents(cls, raw: Any, currency: str) -> Money:
        return cls(to_decimal(raw) / 100, currency.upper())


@dataclass(frozen=True)
class Sample:
    """One value of one family, labelled by the provider.

    `labels` holds the family's provider-set labels (not provider/account/
    currency, which the health wrapper and the snapshot add). The manual
    provider may set `provider`/`account` too, since each of its bills names
    the vendor it pays.
    """

    family: Family
    labels: tuple[tuple[str, str], ...]
    value: Decimal
    currency: str | None = None

    @classmethod
    def of(cls, family: Family, value: Money | Decimal | int, **labels: str) -> Sample:
        allowed = set(family.provider_labels) | {"provider", "account"}
        unknown = set(labels) - allowed
        missing = set(family.provider_labels) - set(labels)
        if unknown or missing:
            raise ValueError(
                f"{family.name}: labels {sorted(labels)} do not match {list(family.labels)}"
            )
        if family.money != isinstance(value, Money):
            raise TypeError(f"{family.name}: money families take Money, others plain numbers")
        if isinstance(value, Money):
            return cls(family, tuple(sorted(labels.items())), value.amount, value.currency)
        return cls(family, tuple(sorted(labels.items())), Decimal(value))

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)
