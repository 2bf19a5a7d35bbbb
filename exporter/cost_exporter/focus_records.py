"""One FOCUS charge record, read the same way from Vercel's JSONL and from CSV exports.

FOCUS (FinOps Open Cost and Usage Specification) names its columns in
PascalCase. Versions 1.0 to 1.3 agree on the columns read here, except the
provider: 1.0-1.2 say `ProviderName`, 1.3 deprecates it for
`ServiceProviderName`. `BilledCost` is the invoiced amount (credits negative)
in `BillingCurrency`; `ChargePeriodStart` is an inclusive UTC timestamp.
`ChargeFrequency` (`Usage-Based`, `Recurring`, `One-Time`) with `ChargeCategory`
decides the `charge_frequency` label (see `charge_frequency`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cost_exporter.catalog import ONE_TIME, RECURRING, USAGE_BASED
from cost_exporter.samples import BadAmount, BadRecord, to_decimal

PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName")
REQUIRED_COLUMNS = ("BilledCost", "BillingCurrency", "ChargePeriodStart")


@dataclass(frozen=True)
class FocusRecord:
    billed_cost: Decimal
    currency: str
    service_name: str
    charge_category: str
    charge_period_start: datetime
    charge_frequency: str = USAGE_BASED
    provider_name: str = ""
    consumed_quantity: Decimal | None = None
    consumed_unit: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def month(self) -> tuple[int, int]:
        return self.charge_period_start.year, self.charge_period_start.month


def snake(name: str) -> str:
    """`Fast Data Transfer` -> `fast_data_transfer`, `OVHcloud` -> `ovhcloud`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def parse_record(row: Mapping[str, Any], default_currency: str | None = None) -> FocusRecord:
    """A record from a JSON object or a CSV row (where every value is a string)."""
    try:
        cost = to_decimal(row.get("BilledCost"))
    except BadAmount as exc:
        raise BadRecord(f"BilledCost: {exc}") from None
    currency = _text(row.get("BillingCurrency")).upper() or (default_currency or "")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise BadRecord(f"BillingCurrency {currency!r} is not an ISO 4217 code")
    category = _text(row.get("ChargeCategory"))
    return FocusRecord(
        billed_cost=cost,
        currency=currency,
        # A tax or credit line may carry no service; its category still names it.
        service_name=_text(row.get("ServiceName")) or category or "unknown",
        charge_category=category,
        charge_period_start=parse_timestamp(row.get("ChargePeriodStart")),
        charge_frequency=charge_frequency(_text(row.get("ChargeFrequency")), category),
        provider_name=next((_text(row.get(c)) for c in PROVIDER_COLUMNS if row.get(c)), ""),
        consumed_quantity=_quantity(row.get("ConsumedQuantity")),
        consumed_unit=_text(row.get("ConsumedUnit")) or None,
        tags=parse_tags(row.get("Tags")),
    )


FREQUENCIES = {"usage-based": USAGE_BASED, "recurring": RECURRING, "one-time": ONE_TIME}
# A purchase (a plan, a commitment), a credit, a tax or an adjustment does not grow
# with use, whatever frequency the file gives it: extrapolating it would multiply a
# plan fee by the days of the month.
NOT_USAGE_CATEGORIES = frozenset({"purchase", "credit", "tax", "adjustment"})


def charge_frequency(frequency: str, category: str) -> str:
    """The `charge_frequency` label of a record from its FOCUS ChargeFrequency and
    ChargeCategory; a missing or unknown frequency follows the category."""
    label = FREQUENCIES.get(frequency.lower())
    if category.lower() in NOT_USAGE_CATEGORIES:
        return RECURRING if label == RECURRING else ONE_TIME
    return label or USAGE_BASED


def parse_timestamp(raw: Any) -> datetime:
    """ISO 8601 (`Z`, offsets, fractions, a space separator, a bare date); naive means UTC."""
    text = _text(raw)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord(f"ChargePeriodStart {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise BadRecord(f"ChargePeriodStart {text!r} is out of range") from None


def parse_tags(raw: Any) -> dict[str, str]:
    """Tags as a JSON object (JSONL) or its JSON text (CSV).

    Tags only feed the per-project breakdown, so unreadable tags count as none
    rather than dropping a charge from the totals.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return {}
    if not isinstance(raw, dict):
        return {}
    return {str(key): str(value) for key, value in raw.items() if value is not None}


def _quantity(raw: Any) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return to_decimal(raw)
    except BadAmount as exc:
        raise BadRecord(f"ConsumedQuantity: {exc}") from None


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str | int | float):
        raise BadRecord(f"expected text, got {type(raw).__name__}")
    return str(raw).strip()
