"""Every policy number lives in one place; everything else reads it from there.

The warning ratio is the config's `warning_ratio` (default in settings.py), published as
cost_budget_warning_ratio; the staleness limit is schedule.py's, published as
cost_data_stale_after_seconds; the rules, the dashboard generator and the views read those
metrics or call that code. A copy of one of the numbers in a second place would drift from it
without any other test failing, so this test fails on the copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from cost_exporter import schedule, settings
from cost_exporter.schedule import Schedule
from cost_exporter.settings import ExporterSettings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exporter" / "cost_exporter"
# Where a copy would hide: the rules, the dashboard generator, every module of the exporter.
SCANNED = (
    *sorted((ROOT / "prometheus" / "rules").glob("*.yml")),
    ROOT / "grafana" / "dashboard.py",
    *sorted(PACKAGE.glob("*.py")),
)
DEFAULTS = Schedule.of(ExporterSettings())


def plain(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def number(value: Decimal | float) -> str:
    """A regex for the number as a literal (0.8, 0.80, 172800.0), not part of a longer one."""
    text = plain(value)
    zeros = r"0*" if "." in text else r"(?:\.0*)?"
    return rf"(?<![\d.]){re.escape(text)}{zeros}(?![\d.]*\d)"


def percent(ratio: Decimal) -> str:
    return rf"(?<![\d.]){re.escape(plain(ratio * 100))} ?%"


def days(seconds: float) -> str:
    count = int(seconds // 86400)
    words = {1: "one", 2: "two", 3: "three"}.get(count, str(count))
    return rf"\b(?:{count}|{words}) days?\b|\b{int(seconds // 3600)} ?h(?:ours)?\b"


@dataclass(frozen=True)
class Policy:
    name: str
    home: Path
    """The one place the number is written."""
    patterns: tuple[str, ...]

    def copies(self, text: str) -> list[str]:
        return [m.group(0) for p in self.patterns for m in re.finditer(p, text, re.I)]


WARNING_RATIO = settings.DEFAULT_WARNING_RATIO
POLICIES = (
    Policy(
        "warning ratio (warning_ratio, cost_budget_warning_ratio)",
        PACKAGE / "settings.py",
        (number(WARNING_RATIO), percent(WARNING_RATIO)),
    ),
    Policy(
        "staleness limit (cost_data_stale_after_seconds)",
        PACKAGE / "schedule.py",
        (
            number(DEFAULTS.stale_after_s),
            days(DEFAULTS.stale_after_s),
            # The rule itself, "so many refresh intervals", written out again.
            rf"\b{schedule.STALE_AFTER_INTERVALS} ?\* ?[\w.]*refresh_interval",
            rf"refresh_interval\w* ?\* ?{schedule.STALE_AFTER_INTERVALS}\b",
        ),
    ),
    Policy(
        "retry interval (COST_RETRY_INTERVAL_S, cost_collector_consecutive_failures)",
        PACKAGE / "settings.py",
        # A duration derived from the retry interval, as CostCollectorFailing's `for: 90m` was.
        (rf"\b{int(DEFAULTS.retry_interval_s * 1.5 // 60)} ?m(?:in(?:utes)?)?\b",),
    ),
)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_a_policy_number_is_written_in_one_place_only(policy: Policy) -> None:
    places = {
        str(path.relative_to(ROOT)): found
        for path in SCANNED
        if path != policy.home and (found := policy.copies(path.read_text(encoding="utf-8")))
    }
    assert not places, f"{policy.name} is copied outside {policy.home.name}: {places}"


def test_each_policy_number_is_written_where_it_lives() -> None:
    assert f'DEFAULT_WARNING_RATIO = Decimal("{WARNING_RATIO}")' in POLICIES[0].home.read_text()
    interval = f"STALE_AFTER_INTERVALS = {schedule.STALE_AFTER_INTERVALS}"
    assert interval in POLICIES[1].home.read_text()


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (POLICIES[0], "expr: provider_account:cost_month_to_date:sum > 0.8 * budget"),
        (POLICIES[0], 'WARN_AT = Decimal("0.8")'),
        (POLICIES[0], "BudgetWarning fires at 80%, BudgetExceeded at 100%."),
        (POLICIES[0], 'UTILISATION = thresholds(("green", None), ("orange", 0.80))'),
        (POLICIES[1], "expr: time() - cost_collector_last_success_timestamp_seconds > 172800"),
        (POLICIES[1], "stale_after = 2 * refresher.settings.refresh_interval_s"),
        (POLICIES[1], "Data older than two days fires CostDataStale."),
        (POLICIES[1], "more than the limit of 2 days"),
        (POLICIES[2], "for: 90m"),
    ],
)
def test_the_check_catches_a_copy(policy: Policy, text: str) -> None:
    assert policy.copies(text)


@pytest.mark.parametrize(
    "text",
    ["0.85", "10.8", "180%", "0.08", "2026-11-23T01:00:00Z", "delay = min(delay, 3600.0)"],
)
def test_the_check_leaves_other_numbers_alone(text: str) -> None:
    assert not any(policy.copies(text) for policy in POLICIES)
