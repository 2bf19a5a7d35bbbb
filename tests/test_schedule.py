"""Staleness and the schedule are decided once, and every view follows that one decision.

`/healthz`, the status page and `/metrics` (which CostDataStale reads) must call the same
account stale at the same moment of the refresher's injected clock, relative to the
configured refresh interval, never a copy of "two days".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cost_exporter import summary
from cost_exporter.app import create_app
from cost_exporter.schedule import Schedule
from cost_exporter.snapshot import AccountState
from tests.fakes import Fakes, fake_provider, make_config, make_refresher, spend

CONFIG = """
providers:
  fake:
    - {account: a}
"""
START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
SCHEDULE = Schedule(refresh_interval_s=3600, retry_interval_s=600)


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with fake_provider() as fakes:
        yield fakes


def state(up: bool, at: datetime | None, succeeded: datetime | None = None) -> AccountState:
    return AccountState(
        "fake",
        "a",
        up=up,
        last_attempt=None if at is None else at.timestamp(),
        last_success=None if succeeded is None else succeeded.timestamp(),
    )


def test_data_is_stale_after_two_refresh_intervals_without_a_success() -> None:
    assert SCHEDULE.stale_after_s == 7200
    ok = state(True, START, START)
    assert SCHEDULE.fresh(ok, START + timedelta(seconds=7200))
    assert not SCHEDULE.fresh(ok, START + timedelta(seconds=7201))
    assert not SCHEDULE.fresh(state(False, START), START)


def test_the_next_collection_is_due_after_the_refresh_or_the_retry_interval() -> None:
    assert SCHEDULE.next_due(None) is None
    assert SCHEDULE.next_due(state(False, None)) is None
    assert SCHEDULE.next_due(state(True, START, START)) == START + timedelta(hours=1)
    assert SCHEDULE.next_due(state(False, START)) == START + timedelta(minutes=10)


def test_a_new_month_is_due_five_minutes_after_midnight_utc() -> None:
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert SCHEDULE.next_due(state(True, late, late)) == datetime(2026, 12, 1, 0, 5, tzinfo=UTC)


def sample(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return None if match is None else float(match.group(1))


async def test_healthz_status_page_and_metrics_turn_stale_at_the_same_moment(
    tmp_path: Path, fakes: Fakes
) -> None:
    clock = [START]
    refresher = make_refresher(
        tmp_path,
        make_config(tmp_path, CONFIG),
        clock=lambda: clock[0],
        COST_REFRESH_INTERVAL_S="3600",
        COST_RETRY_INTERVAL_S="600",
    )
    fakes.returns("a", spend("10"))
    await refresher.refresh()
    app = create_app(refresher, run_scheduler=False)
    labels = '{account="a",provider="fake"}'

    async def views() -> tuple[bool, str, bool]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://e"
        ) as client:
            health = (await client.get("/healthz")).json()
            page = (await client.get("/api/summary")).json()
            text = (await client.get("/metrics")).text
        [account] = health["accounts"]
        [collector] = page["collectors"]
        limit = sample(text, "cost_data_stale_after_seconds")
        last = sample(text, "cost_collector_last_success_timestamp_seconds", labels)
        assert limit == health["stale_after_s"] == 7200
        assert last is not None
        # CostDataStale: time() - cost_collector_last_success_timestamp_seconds > limit
        rule_fires = clock[0].timestamp() - last > limit
        return account["fresh"], collector["state"], rule_fires

    text = refresher.rendered.text.decode()
    due = sample(text, "cost_collector_next_due_timestamp_seconds", labels)
    assert due == (START + timedelta(hours=1)).timestamp()

    clock[0] = START + timedelta(hours=2)
    assert await views() == (True, "ok", False)
    clock[0] = START + timedelta(hours=2, seconds=1)
    assert await views() == (False, "stale", True)
    assert summary.from_refresher(refresher).collectors[0].state == "stale"


async def test_after_a_failure_the_next_collection_is_due_after_the_retry_interval(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = make_refresher(
        tmp_path, make_config(tmp_path, CONFIG), clock=lambda: START, COST_RETRY_INTERVAL_S="600"
    )
    fakes.raises("a", RuntimeError("down"))
    text = refresher.rendered.text.decode()
    assert "cost_collector_next_due_timestamp_seconds{" not in text  # never attempted: due now
    await refresher.refresh()
    text = refresher.rendered.text.decode()
    due = sample(text, "cost_collector_next_due_timestamp_seconds", '{account="a",provider="fake"}')
    assert due == (START + timedelta(minutes=10)).timestamp()
    assert refresher.next_wakeup() == START + timedelta(minutes=10)
