"""The month-end forecast across the calendar: plan fees, credits, the 1st, February.

Every expected value is worked out by hand in the comment beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cost_exporter.catalog import ONE_TIME, RECURRING, USAGE_BASED
from cost_exporter.forecast import month_end


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 10) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def usage(amount: str) -> tuple[str, Decimal]:
    return (USAGE_BASED, Decimal(amount))


def plan(amount: str) -> tuple[str, Decimal]:
    return (RECURRING, Decimal(amount))


def once(amount: str) -> tuple[str, Decimal]:
    return (ONE_TIME, Decimal(amount))


def test_a_plan_fee_on_the_1st_is_added_once_not_multiplied_by_the_month() -> None:
    # 2 March 00:10: one day completed, $20 plan + $1 of usage, no previous month known.
    # Usage 1/1 x 31 days = 31; the plan as it is: 51, not (20 + 1) x 31 = 651.
    assert month_end([plan("20"), usage("1")], None, at(2027, 3, 2)) == Decimal(51)


def test_a_credit_on_the_2nd_is_added_as_it_is() -> None:
    # 3 March: two days completed, usage 2, a -5 credit: 2/2 x 31 - 5 = 26.
    assert month_end([usage("2"), once("-5")], None, at(2027, 3, 3)) == Decimal(26)


def test_on_the_1st_before_any_day_completed_the_forecast_is_what_is_known() -> None:
    # Nothing completed and no previous month: plan + usage so far, never extrapolated.
    assert month_end([plan("20"), usage("0.4")], None, at(2027, 3, 1)) == Decimal("20.4")


def test_on_the_1st_the_previous_months_usage_rate_carries_the_forecast() -> None:
    # February 2027 had 28 days and 56 of usage: 2 a day, weighing as 7 days, with the
    # 0.4 of the running day: (0.4 + 2 x 7) / 7 a day x 31 days = 446.4/7, + plan 20.
    found = month_end([plan("20"), usage("0.4")], Decimal(56), at(2027, 3, 1))
    assert found == pytest.approx(Decimal("446.4") / 7 + 20, abs=Decimal("1e-20"))


def test_february_extrapolates_over_28_days_and_29_in_a_leap_year() -> None:
    # 3 February: 2 days completed, usage 4: 2 a day. January (31 days) had 62: 2 a day too,
    # so the blend stays at 2: x 28 = 56 (2027), x 29 = 58 (2028).
    assert month_end([usage("4")], Decimal(62), at(2027, 2, 3)) == Decimal(56)
    assert month_end([usage("4")], Decimal(62), at(2028, 2, 3)) == Decimal(58)


def test_early_in_the_month_the_previous_month_weighs_as_the_days_still_missing() -> None:
    # 3 March: 2 days completed with 10 of usage (5 a day); February 2027 averaged
    # 28/28 = 1 a day and counts for 7 - 2 = 5 days: (10 + 1 x 5) / (2 + 5) = 15/7 a day,
    # x 31 days = 465/7.
    found = month_end([usage("10")], Decimal(28), at(2027, 3, 3))
    assert found == pytest.approx(Decimal(465) / 7, abs=Decimal("1e-20"))


def test_from_the_8th_the_months_own_rate_stands_alone() -> None:
    # 8 March: 7 days completed, 70 of usage: 10 a day x 31 = 310, whatever February said.
    assert month_end([usage("70")], Decimal(28), at(2027, 3, 8)) == Decimal(310)


def test_a_previous_month_without_usage_says_nothing_about_the_rate() -> None:
    # A new account: February had no usage. 2 March, 1 day completed, 3 of usage: 3 x 31.
    assert month_end([usage("3")], Decimal(0), at(2027, 3, 2)) == Decimal(93)


def test_the_last_day_of_the_month_at_23_50_extrapolates_over_the_completed_days() -> None:
    # 31 March 23:50: 30 days completed, 60 of usage: 2 a day x 31 = 62, + plan 20.
    assert month_end([usage("60"), plan("20")], None, at(2027, 3, 31, 23, 50)) == Decimal(82)
