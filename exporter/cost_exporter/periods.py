"""Calendar months in UTC, the unit every bill is counted in."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: datetime) -> datetime:
    start = month_start(moment)
    return (start + timedelta(days=32)).replace(day=1)


def previous_month_start(moment: datetime) -> datetime:
    return month_start(month_start(moment) - timedelta(days=1))


def days_in_month(moment: datetime | date) -> int:
    return calendar.monthrange(moment.year, moment.month)[1]


def completed_days(moment: datetime) -> int:
    """Whole days of the month that ended before `moment` (providers report up to yesterday)."""
    return moment.astimezone(UTC).day - 1


def same_month(a: datetime, b: datetime) -> bool:
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    return (a.year, a.month) == (b.year, b.month)
