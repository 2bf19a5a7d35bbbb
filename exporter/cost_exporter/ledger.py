"""Figures per UTC day, for APIs that only answer for a window relative to now.

Some APIs give a figure per day but only for the last few days (Supabase's
request counts: the last 7), so no single answer adds up to a month. A
collector then records every complete day of each answer in its account's
ledger (`providers.base.Context.ledger`, persisted with the snapshot), one
entry per name (e.g. `api_requests:<project>`) and ISO day:

* a day is complete when it lies wholly inside the answer's window and ended
  before the collection; the first and the running day of a window are not;
* a day read again keeps the larger figure: late data adds to a day, data past
  its retention must not take it away, and a day is never counted twice;
* a day never recorded is missing, never 0: `coverage` reports it as such;
* only the current month is kept, the only one read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cost_exporter.periods import completed_days, month_start

Ledger = dict[str, dict[str, Decimal]]
"""name -> ISO day (YYYY-MM-DD) -> figure, e.g. {"api_requests:<project>": {"2026-11-20": 1234}}."""


def complete_days(now: datetime, window: timedelta) -> list[date]:
    """The UTC days wholly inside the `window` before `now` that ended before `now`."""
    start = now - window
    first = start.astimezone(UTC).date()
    if datetime(first.year, first.month, first.day, tzinfo=UTC) < start:
        first += timedelta(days=1)
    return [first + timedelta(days=n) for n in range((now.astimezone(UTC).date() - first).days)]


def record(
    days: Mapping[str, Decimal],
    readings: Mapping[date, Decimal],
    complete: Iterable[date],
    absent_is_zero: bool = False,
) -> dict[str, Decimal]:
    """`days` (ISO day -> figure) with the `complete` days of one answer recorded.

    `absent_is_zero`: the answer covers every complete day, so one it has no figure
    for is a 0 (else such a day stays missing).
    """
    recorded = dict(days)
    for day in complete:
        found = readings.get(day)
        if found is None and not absent_is_zero:
            continue
        key = day.isoformat()
        recorded[key] = max(recorded.get(key, Decimal(0)), found or Decimal(0))
    return recorded


def prune(
    ledger: Mapping[str, Mapping[str, Decimal]], names: Iterable[str], now: datetime
) -> Ledger:
    """Only `names`, and only their days of the month of `now`."""
    first = month_start(now).date().isoformat()
    keep = set(names)
    return {
        name: {day: value for day, value in days.items() if day >= first}
        for name, days in ledger.items()
        if name in keep
    }


@dataclass(frozen=True)
class Coverage:
    """The completed days of a month: those recorded under every name, and the rest."""

    covered: tuple[date, ...]
    missing: tuple[date, ...]
    total: Decimal
    """The sum over the covered days and every name (days missing for one name left out)."""


def coverage(
    ledger: Mapping[str, Mapping[str, Decimal]], names: Iterable[str], now: datetime
) -> Coverage:
    """What the ledger knows of the completed days of the month of `now`."""
    first = month_start(now).date()
    month = [first + timedelta(days=n) for n in range(completed_days(now))]
    recorded = [ledger.get(name, {}) for name in names]
    covered = tuple(d for d in month if all(d.isoformat() in days for days in recorded))
    missing = tuple(d for d in month if d not in covered)
    total = sum((days[d.isoformat()] for d in covered for days in recorded), Decimal(0))
    return Coverage(covered, missing, total)
