"""The day ledger: complete days of a window, recorded once, missing never zero."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cost_exporter import ledger

WEEK = timedelta(days=7)


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@pytest.mark.parametrize(
    ("now", "complete"),
    [
        # The window starts at 01:00 on the 16th: the 16th is cut, the 23rd still running.
        (datetime(2026, 11, 23, 1, tzinfo=UTC), days("2026-11-17", "2026-11-22")),
        # At midnight the window starts at a midnight too: seven whole days.
        (datetime(2026, 11, 23, tzinfo=UTC), days("2026-11-16", "2026-11-22")),
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), days("2026-11-16", "2026-11-21")),
        # Across a month and a year.
        (datetime(2027, 1, 2, 0, 10, tzinfo=UTC), days("2026-12-27", "2027-01-01")),
    ],
)
def test_complete_days_lie_wholly_inside_the_window_and_ended_before_now(
    now: datetime, complete: list[date]
) -> None:
    assert ledger.complete_days(now, WEEK) == complete


def test_a_day_read_again_keeps_the_larger_figure_and_is_never_added() -> None:
    first = ledger.record({}, {date(2026, 11, 20): Decimal(100)}, [date(2026, 11, 20)])
    late = ledger.record(first, {date(2026, 11, 20): Decimal(104)}, [date(2026, 11, 20)])
    expired = ledger.record(late, {date(2026, 11, 20): Decimal(3)}, [date(2026, 11, 20)])
    assert first == {"2026-11-20": Decimal(100)}
    assert late == expired == {"2026-11-20": Decimal(104)}


def test_only_complete_days_are_recorded() -> None:
    readings = {date(2026, 11, 16): Decimal(5), date(2026, 11, 17): Decimal(7)}
    assert ledger.record({}, readings, [date(2026, 11, 17)]) == {"2026-11-17": Decimal(7)}


def test_a_day_without_a_figure_is_missing_unless_the_answer_covers_every_day() -> None:
    complete = [date(2026, 11, 19), date(2026, 11, 20)]
    readings = {date(2026, 11, 19): Decimal(9)}
    assert ledger.record({}, readings, complete) == {"2026-11-19": Decimal(9)}
    assert ledger.record({}, readings, complete, absent_is_zero=True) == {
        "2026-11-19": Decimal(9),
        "2026-11-20": Decimal(0),
    }


def test_pruning_keeps_the_named_entries_and_this_month_only() -> None:
    recorded = {
        "api_requests:a": {"2026-10-31": Decimal(1), "2026-11-01": Decimal(2)},
        "api_requests:gone": {"2026-11-01": Decimal(3)},
    }
    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert ledger.prune(recorded, ["api_requests:a"], now) == {
        "api_requests:a": {"2026-11-01": Decimal(2)}
    }


def test_coverage_counts_a_day_only_when_every_name_has_it() -> None:
    recorded = {
        "a": {"2026-11-01": Decimal(10), "2026-11-02": Decimal(20), "2026-11-03": Decimal(1)},
        "b": {"2026-11-01": Decimal(5), "2026-11-03": Decimal(2)},
    }
    month = ledger.coverage(recorded, ["a", "b"], datetime(2026, 11, 5, 6, tzinfo=UTC))
    assert month.covered == (date(2026, 11, 1), date(2026, 11, 3))
    # The 2nd is missing for b, the 4th for both: neither is in the total, not even a's 20.
    assert month.missing == (date(2026, 11, 2), date(2026, 11, 4))
    assert month.total == Decimal(10 + 5 + 1 + 2)


def test_on_the_first_of_a_month_nothing_is_covered_or_missing() -> None:
    month = ledger.coverage({"a": {}}, ["a"], datetime(2026, 12, 1, 0, 10, tzinfo=UTC))
    assert (month.covered, month.missing, month.total) == ((), (), Decimal(0))
