"""Month-end forecast: a run-rate over the completed days, plus fixed bills.

Providers report up to yesterday at best, so the rate divides by the days
that ended before the collection. Fixed (manual) bills are charged once a
month and are added as they are, never extrapolated. On the 1st nothing has
completed yet: the forecast is what is known, not a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from cost_exporter.periods import completed_days, days_in_month


def month_end(amounts: Iterable[tuple[str, Decimal]], collected_at: datetime) -> Decimal:
    """`amounts` are (source, month-to-date amount) pairs of one provider account."""
    fixed = variable = Decimal(0)
    for source, amount in amounts:
        if source == "manual":
            fixed += amount
        else:
            variable += amount
    days = completed_days(collected_at)
    if days == 0:
        return fixed + variable
    return fixed + variable / days * days_in_month(collected_at)
