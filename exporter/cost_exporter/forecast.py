"""Month-end forecast: usage-based spend at its run-rate, plus fixed charges as they are.

Only `usage_based` spend grows with use. Recurring fees (a plan, a VPS) and
one-time charges (a purchase, a credit, a tax) are added as they stand: a $20
plan fee on the 1st extrapolated over the month would forecast $600.

Providers report up to yesterday at best, so the run-rate divides usage by the
days that ended before the collection. Early in a month a day or two says
little, so until `WARM_UP_DAYS` days have completed the rate leans on the
previous month's usage-based daily average: the previous month counts as the
days still missing to `WARM_UP_DAYS`, so its weight fades out day by day. On
the 1st, with no previous month known, the forecast is what is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from cost_exporter.catalog import USAGE_BASED
from cost_exporter.periods import completed_days, days_in_month, previous_month_start

WARM_UP_DAYS = 7
"""Completed days from which a month's own run-rate stands alone."""


def month_end(
    month_to_date: Iterable[tuple[str, Decimal]],
    previous_usage: Decimal | None,
    collected_at: datetime,
) -> Decimal:
    """Forecast of one provider account.

    `month_to_date` holds (charge_frequency, amount) pairs of this month;
    `previous_usage` is the previous month's usage-based total, None if unknown.
    """
    fixed = usage = Decimal(0)
    for frequency, amount in month_to_date:
        if frequency == USAGE_BASED:
            usage += amount
        else:
            fixed += amount
    rate = daily_rate(usage, completed_days(collected_at), previous_usage, collected_at)
    if rate is None:
        return fixed + usage
    return fixed + rate * days_in_month(collected_at)


def daily_rate(
    usage: Decimal, days: int, previous_usage: Decimal | None, collected_at: datetime
) -> Decimal | None:
    """Usage-based spend per day, or None while there is nothing to base it on."""
    weight = 0
    previous_rate = Decimal(0)
    # A previous month without usage says nothing about this month's rate.
    if previous_usage is not None and previous_usage > 0 and days < WARM_UP_DAYS:
        weight = WARM_UP_DAYS - days
        previous_rate = previous_usage / days_in_month(previous_month_start(collected_at))
    if days + weight == 0:
        return None
    return (usage + previous_rate * weight) / (days + weight)
