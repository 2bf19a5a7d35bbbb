"""Supabase's API requests month-to-date, built from 7-day windows across refreshes and restarts.

The real refresher collects from the fake Supabase (tests/fake_providers.py), which answers
`usage.api-counts?interval=7day` with one bucket per UTC day of the 7 days before its clock;
both clocks are injected and move together. Each complete day is recorded once in the
account's ledger, which the snapshot persists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cost_exporter import catalog, figures
from cost_exporter import snapshot as snapshots
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers import env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import load_config, load_exporter_settings
from tests.fake_providers import (
    SUPABASE_DATABASE_ROWS,
    SUPABASE_FUNCTIONS,
    FakeProviders,
    supabase_day_requests,
)

KEY = ("supabase", "default")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Exporter:
    """The exporter against the fake Supabase, restartable on the same state directory."""

    fake: FakeProviders
    clock: Clock
    tmp_path: Path
    plan: str = "pro"
    refresher: Refresher | None = None
    http: list[HttpClient] = field(default_factory=list)

    def start(self) -> Refresher:
        env = {**self.fake.env(["supabase"]), "SUPABASE_PLAN": self.plan}
        path = self.fake.write_config(
            self.tmp_path / "config.yml", manual=False, providers=["supabase"]
        )
        config = load_config(env, path, env_specs())
        settings = load_exporter_settings({"COST_STATE_DIR": str(self.tmp_path / "state")})
        http = HttpClient(retry=RetryPolicy(max_attempts=2, initial_wait_s=0, max_wait_s=0))
        self.http.append(http)
        self.refresher = Refresher(settings, config, http, clock=self.clock)
        self.refresher.restore()
        return self.refresher

    async def refresh_at(self, moment: datetime) -> dict[str, Decimal]:
        self.clock.now = moment
        refresher = self.refresher or self.start()
        result = await refresher.refresh()
        assert all(o.ok for o in result.accounts), result.summary()
        return self.figures()

    def figures(self) -> dict[str, Decimal]:
        """The Supabase request families as /metrics shows them (name -> value)."""
        assert self.refresher is not None
        series = figures.derive(self.refresher.snapshot, self.refresher.config, self.clock.now)
        wanted = (catalog.SUPABASE_API_REQUESTS_7D, catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE)
        found = {f.name: v for f in wanted for v in series.get(f, {}).values()}
        coverage = series.get(catalog.SUPABASE_API_REQUESTS_DAY_COVERAGE, {})
        return found | {labels[-1]: value for labels, value in coverage.items()}

    def ledger(self) -> dict[str, Any]:
        data = json.loads((self.tmp_path / "state" / snapshots.FILE_NAME).read_text())
        [account] = [a for a in data["accounts"] if a["provider"] == "supabase"]
        [days] = account["ledger"].values()
        return dict(days)

    async def close(self) -> None:
        for http in self.http:
            await http.aclose()


MTD = catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE.name
COVERED, MISSING = "covered", "missing"  # the coverage label of the day count
WINDOW = catalog.SUPABASE_API_REQUESTS_7D.name


def at(day: str, hour: int = 1, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def requests(first: str, last: str) -> Decimal:
    """The requests of the whole days first..last (inclusive) as the fake serves them."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    days = (end - start).days + 1
    return Decimal(sum(supabase_day_requests(start + timedelta(days=n)) for n in range(days)))


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    clock = Clock(at("2026-11-23"))
    with FakeProviders(clock=clock) as fake:
        yield Exporter(fake, clock, tmp_path)


async def test_the_month_to_date_adds_the_complete_days_of_the_window(exporter: Exporter) -> None:
    figures = await exporter.refresh_at(at("2026-11-23"))
    await exporter.close()
    # 01:00 on the 23rd: the window starts at 01:00 on the 16th, so the 17th..22nd are whole.
    assert figures[MTD] == requests("2026-11-17", "2026-11-22")
    assert figures[COVERED] == 6
    assert figures[MISSING] == 16  # the 1st..16th were never in a window the exporter read
    assert figures[WINDOW] > requests("2026-11-17", "2026-11-22")  # plus two cut days
    assert sorted(exporter.ledger()) == [f"2026-11-{d}" for d in range(17, 23)]


async def test_two_refreshes_a_day_count_each_day_once(exporter: Exporter) -> None:
    first = await exporter.refresh_at(at("2026-11-23", 1))
    second = await exporter.refresh_at(at("2026-11-23", 13))
    await exporter.close()
    assert second[MTD] == first[MTD] == requests("2026-11-17", "2026-11-22")
    assert second[COVERED] == 6


async def test_a_restart_mid_day_reads_the_ledger_back_and_counts_nothing_twice(
    exporter: Exporter,
) -> None:
    await exporter.refresh_at(at("2026-11-22", 6))  # records the 16th..21st
    exporter.refresher = None  # the process ends; the state directory stays
    after = await exporter.refresh_at(at("2026-11-22", 15))
    assert after[MTD] == requests("2026-11-16", "2026-11-21")
    tomorrow = await exporter.refresh_at(at("2026-11-23", 0, 10))
    await exporter.close()
    # The 16th left the window at 00:10 on the 23rd; the ledger still holds it.
    assert tomorrow[MTD] == requests("2026-11-16", "2026-11-22")
    assert tomorrow[COVERED] == 7


async def test_a_missed_day_is_reported_missing_not_as_zero(exporter: Exporter) -> None:
    await exporter.refresh_at(at("2026-11-08", 0))  # midnight: the 1st..7th are whole
    # Down for ten days: the 8th..10th fell out of every window the exporter read.
    figures = await exporter.refresh_at(at("2026-11-18", 0))
    await exporter.close()
    assert figures[MTD] == requests("2026-11-01", "2026-11-07") + requests(
        "2026-11-11", "2026-11-17"
    )
    assert figures[COVERED] == 14
    assert figures[MISSING] == 3
    assert "2026-11-09" not in exporter.ledger()


async def test_a_new_month_starts_from_no_day_and_drops_the_last_one(exporter: Exporter) -> None:
    november = await exporter.refresh_at(at("2026-11-30", 12))
    assert november[MTD] == requests("2026-11-24", "2026-11-29")
    first = await exporter.refresh_at(at("2026-12-01", 0, 10))
    # No day of December has ended: no month-to-date, and nothing missing either.
    assert MTD not in first
    assert first[COVERED] == first[MISSING] == 0
    assert exporter.ledger() == {}  # November is gone
    second = await exporter.refresh_at(at("2026-12-02", 0, 10))
    await exporter.close()
    assert second[MTD] == requests("2026-12-01", "2026-12-01")
    assert (second[COVERED], second[MISSING]) == (1, 0)


async def test_rows_per_table_and_function_invocations_come_from_the_fake_as_documented(
    exporter: Exporter,
) -> None:
    await exporter.refresh_at(at("2026-11-23"))
    await exporter.close()
    assert exporter.refresher is not None
    series = figures.derive(
        exporter.refresher.snapshot, exporter.refresher.config, exporter.clock.now
    )
    assert series[catalog.USAGE][("supabase", "default", "database_rows")] == (
        SUPABASE_DATABASE_ROWS
    )
    tables = {labels[2]: value for labels, value in series[catalog.TABLE_ROWS].items()}
    assert tables["storage.objects"] == 53_100  # no statistics: the planner's estimate
    assert sum(tables.values()) == SUPABASE_DATABASE_ROWS
    functions = {
        labels[2]: value
        for labels, value in series[catalog.SUPABASE_FUNCTION_INVOCATIONS_24H].items()
    }
    expected = {slug: 24 * hourly for _, slug, status, hourly in SUPABASE_FUNCTIONS}
    del expected["old-cron"]  # removed: never asked about
    assert functions == expected
