"""Spend per UTC day, as providers with daily data report it.

A provider adds each charge it already read (`add(day, service, money, frequency)`)
and hands the core two kinds of samples:

* `completed(today)`: `DAILY_SPEND` of every day that ended before `today`,
  from which the core derives `cost_last_day` (exposition);
* `history(start, end)`: the same per day, plus `DAILY_SERVICE_SPEND` per
  day and service, from which `cost-exporter backfill` rebuilds
  `cost_month_to_date` and `cost_previous_month` with the live labels.

A day without a single charge has no sample: only the provider knows whether
that means "nothing spent" or "not processed yet", and a 0 must never mean
unknown.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cost_exporter import catalog
from cost_exporter.catalog import USAGE_BASED
from cost_exporter.samples import Money, Sample

Key = tuple[date, str, str, str]
"""(day, service_name, charge_frequency, currency)"""


class DailySpend:
    """Amounts by day, service, charge frequency and currency, summed as records arrive."""

    def __init__(self, source: str = "api") -> None:
        self.source = source
        self.amounts: dict[Key, Decimal] = defaultdict(Decimal)

    def add(
        self, day: date, service_name: str, money: Money, charge_frequency: str = USAGE_BASED
    ) -> None:
        self.amounts[(day, service_name, charge_frequency, money.currency)] += money.amount

    def update(self, other: DailySpend) -> None:
        for key, amount in other.amounts.items():
            self.amounts[key] += amount

    def completed(self, today: date) -> list[Sample]:
        """`DAILY_SPEND` of the days that ended before `today` (a running day is not complete)."""
        return self._daily(None, today)

    def history(self, start: date, end: date) -> list[Sample]:
        """`DAILY_SPEND` and `DAILY_SERVICE_SPEND` of the days in [start, end)."""
        per_service = {key: amount for key, amount in self.amounts.items() if start <= key[0] < end}
        samples = self._daily(start, end)
        samples += [
            Sample.of(
                catalog.DAILY_SERVICE_SPEND,
                Money(amount, currency),
                day=day.isoformat(),
                service_name=service,
                source=self.source,
                charge_frequency=frequency,
            )
            for (day, service, frequency, currency), amount in sorted(per_service.items())
        ]
        return samples

    def _daily(self, start: date | None, end: date) -> list[Sample]:
        by_day: dict[tuple[date, str, str], Decimal] = defaultdict(Decimal)
        for (day, _, frequency, currency), amount in self.amounts.items():
            if (start is None or day >= start) and day < end:
                by_day[(day, frequency, currency)] += amount
        return [
            Sample.of(
                catalog.DAILY_SPEND,
                Money(amount, currency),
                day=day.isoformat(),
                charge_frequency=frequency,
            )
            for (day, frequency, currency), amount in sorted(by_day.items())
        ]


def days(start: date, end: date) -> list[date]:
    """Every day in [start, end)."""
    return [start + timedelta(days=n) for n in range((end - start).days)]


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime."""
    return moment.astimezone(UTC).date()
