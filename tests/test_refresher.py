"""A failing provider never crashes the exporter, blanks the others or loses its last values."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

from cost_exporter import catalog
from cost_exporter.errors import CollectorError
from cost_exporter.providers.base import Context
from cost_exporter.samples import BadAmount, Sample
from tests.fakes import Fakes, fake_provider, make_config, make_refresher, spend

CONFIG = """
providers:
  fake:
    - {account: good, token_env: FAKE_TOKEN_GOOD}
    - {account: flaky, token_env: FAKE_TOKEN_FLAKY}
"""
ENV = {"FAKE_TOKEN_GOOD": "tok-good-123456", "FAKE_TOKEN_FLAKY": "tok-flaky-654321"}


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with fake_provider() as fakes:
        yield fakes


def mtd(refresher: object, account: str) -> float | None:
    figures = refresher.figures  # type: ignore[attr-defined]
    for labels, value in figures.values_of(catalog.MONTH_TO_DATE).items():
        if labels[1] == account:
            return float(value)
    return None


def errors(refresher: object, account: str, reason: str) -> int:
    state = refresher.snapshot.accounts[("fake", account)]  # type: ignore[attr-defined]
    return int(state.errors[reason])


async def first_good_refresh(tmp_path: Path, fakes: Fakes):  # type: ignore[no-untyped-def]
    fakes.returns("good", spend("10"))
    fakes.returns("flaky", spend("20"))
    refresher = make_refresher(tmp_path, make_config(tmp_path, CONFIG, ENV))
    await refresher.refresh()
    assert mtd(refresher, "flaky") == 20.0
    return refresher


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (RuntimeError("boom"), "internal"),
        # Raised by the test double, not while a provider module read a payload: our bug.
        (KeyError("total"), "internal"),
        (BadAmount("not an amount: 'garbage'"), "parse"),
        (CollectorError("parse", "response is not valid JSON"), "parse"),
    ],
)
async def test_a_raising_provider_keeps_its_last_values_and_counts_the_reason(
    tmp_path: Path, fakes: Fakes, failure: Exception, reason: str
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    fakes.raises("flaky", failure)
    fakes.returns("good", spend("11"))
    await refresher.refresh()
    assert mtd(refresher, "flaky") == 20.0
    assert mtd(refresher, "good") == 11.0
    assert errors(refresher, "flaky", reason) == 1
    assert not refresher.snapshot.accounts[("fake", "flaky")].up
    assert b'cost_collector_up{account="flaky",provider="fake"} 0.0' in refresher.rendered.text


async def test_a_hanging_provider_times_out_without_delaying_the_others(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    fakes.hangs("flaky")
    fakes.returns("good", spend("12"))
    started = asyncio.get_running_loop().time()
    await refresher.refresh()
    assert asyncio.get_running_loop().time() - started < 5
    assert errors(refresher, "flaky", "timeout") == 1
    assert mtd(refresher, "flaky") == 20.0
    assert mtd(refresher, "good") == 12.0


@pytest.mark.parametrize(
    ("status", "reason", "responses"),
    [(401, "auth", 1), (403, "auth", 1), (429, "rate_limited", 2), (500, "http_5xx", 2)],
)
async def test_http_errors_keep_last_values_and_count_the_reason(
    tmp_path: Path, fakes: Fakes, httpx_mock: HTTPXMock, status: int, reason: str, responses: int
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    fakes.calls_http("flaky")
    for _ in range(responses):
        httpx_mock.add_response(
            url="https://fake.example.test/v1/costs",
            status_code=status,
            headers={"Retry-After": "0"},
        )
    await refresher.refresh(["fake"])
    assert errors(refresher, "flaky", reason) == 1
    assert mtd(refresher, "flaky") == 20.0
    assert mtd(refresher, "good") == 10.0
    message = refresher.snapshot.accounts[("fake", "flaky")].last_error or ""
    assert f"HTTP {status}" in message
    assert "tok-flaky-654321" not in message


async def test_a_garbage_body_counts_as_parse(
    tmp_path: Path, fakes: Fakes, httpx_mock: HTTPXMock
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    fakes.calls_http("flaky")
    httpx_mock.add_response(url="https://fake.example.test/v1/costs", text="<html>oops</html>")
    await refresher.refresh()
    assert errors(refresher, "flaky", "parse") == 1
    assert mtd(refresher, "flaky") == 20.0


async def test_errors_counter_is_zero_for_every_reason_before_any_failure(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    text = refresher.rendered.text.decode()
    for reason in catalog.ERROR_REASONS:
        assert (
            f'cost_collector_errors_total{{account="good",provider="fake",reason="{reason}"}} 0.0'
            in text
        )


async def test_failures_in_a_row_count_until_a_success_and_survive_a_restart(
    tmp_path: Path, fakes: Fakes
) -> None:
    """CostCollectorFailing fires on the second failure in a row, whatever the retry
    interval: the count is the exporter's, not a duration guessed in the rules."""
    refresher = await first_good_refresh(tmp_path, fakes)
    line = b'cost_collector_consecutive_failures{account="flaky",provider="fake"} '
    assert line + b"0.0" in refresher.rendered.text
    fakes.raises("flaky", RuntimeError("down"))
    await refresher.refresh()
    await refresher.refresh()
    assert line + b"2.0" in refresher.rendered.text
    assert b'cost_collector_consecutive_failures{account="good",provider="fake"} 0.0' in (
        refresher.rendered.text
    )
    restarted = make_refresher(tmp_path, refresher.config)
    restarted.restore()
    assert line + b"2.0" in restarted.rendered.text
    fakes.returns("flaky", spend("21"))
    await restarted.refresh()
    assert line + b"0.0" in restarted.rendered.text


async def test_restart_restores_the_snapshot_and_does_not_collect_again(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    calls_before = dict(fakes.calls)
    restarted = make_refresher(tmp_path, refresher.config)
    assert mtd(restarted, "flaky") is None
    restarted.restore()
    assert mtd(restarted, "flaky") == 20.0
    assert restarted.due() == []
    await restarted.refresh_due()
    assert fakes.calls == calls_before


async def test_a_snapshot_older_than_the_interval_is_collected_at_start(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    tomorrow = refresher.clock() + timedelta(days=1, minutes=1)
    restarted = make_refresher(tmp_path, refresher.config, clock=lambda: tomorrow)
    restarted.restore()
    assert {e.config.account for e in restarted.due()} == {"good", "flaky"}


async def test_a_failed_account_is_retried_sooner_than_the_daily_interval(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    fakes.raises("flaky", RuntimeError("down"))
    await refresher.refresh()
    in_two_hours = refresher.clock() + timedelta(hours=2)
    assert [e.config.account for e in refresher.due(in_two_hours)] == ["flaky"]


async def test_month_rollover_makes_every_account_due_just_after_midnight_utc(
    tmp_path: Path, fakes: Fakes
) -> None:
    clock_now = [datetime(2026, 11, 30, 23, 0, tzinfo=UTC)]
    fakes.returns("good", spend("10"))
    fakes.returns("flaky", spend("20"))
    refresher = make_refresher(
        tmp_path, make_config(tmp_path, CONFIG, ENV), clock=lambda: clock_now[0]
    )
    await refresher.refresh()
    assert refresher.due(datetime(2026, 12, 1, 0, 1, tzinfo=UTC)) == []
    assert len(refresher.due(datetime(2026, 12, 1, 0, 6, tzinfo=UTC))) == 2
    # Last month's total is not served as this month's while the new collection fails.
    clock_now[0] = datetime(2026, 12, 1, 0, 6, tzinfo=UTC)
    fakes.raises("flaky", RuntimeError("down"))
    await refresher.refresh()
    assert mtd(refresher, "flaky") is None
    assert mtd(refresher, "good") == 10.0


def no_charges() -> list[Sample]:
    """What a provider that has not processed the period yet answers: usage, no spend."""
    return [s for s in spend("0") if s.family is not catalog.MONTH_TO_DATE]


async def test_a_month_whose_charges_vanish_is_an_empty_error_and_keeps_the_last_values(
    tmp_path: Path, fakes: Fakes
) -> None:
    clock_now = [datetime(2026, 11, 20, 1, 0, tzinfo=UTC)]
    fakes.returns("good", spend("10"))
    fakes.returns("flaky", spend("792"))
    refresher = make_refresher(
        tmp_path, make_config(tmp_path, CONFIG, ENV), clock=lambda: clock_now[0]
    )
    await refresher.refresh()
    clock_now[0] = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    fakes.returns("flaky", no_charges())
    await refresher.refresh()
    assert errors(refresher, "flaky", "empty") == 1
    assert mtd(refresher, "flaky") == 792.0
    state = refresher.snapshot.accounts[("fake", "flaky")]
    assert not state.up
    assert "2026-11-20 01:00 UTC" in (state.last_error or "")
    # An answer of zeros is no charge either.
    fakes.returns("flaky", spend("0"))
    await refresher.refresh()
    assert errors(refresher, "flaky", "empty") == 2
    assert mtd(refresher, "flaky") == 792.0


async def test_a_new_month_without_charges_yet_is_no_error(tmp_path: Path, fakes: Fakes) -> None:
    clock_now = [datetime(2026, 11, 30, 23, 50, tzinfo=UTC)]
    fakes.returns("good", spend("10"))
    fakes.returns("flaky", spend("792"))
    refresher = make_refresher(
        tmp_path, make_config(tmp_path, CONFIG, ENV), clock=lambda: clock_now[0]
    )
    await refresher.refresh()
    clock_now[0] = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)
    fakes.returns("flaky", no_charges())
    await refresher.refresh()
    assert errors(refresher, "flaky", "empty") == 0
    assert refresher.snapshot.accounts[("fake", "flaky")].up
    assert mtd(refresher, "flaky") is None  # December has no charge yet: no series, no 0


async def test_a_provider_that_never_had_charges_is_no_error(tmp_path: Path, fakes: Fakes) -> None:
    fakes.returns("good", spend("10"))
    fakes.returns("flaky", no_charges())
    refresher = make_refresher(tmp_path, make_config(tmp_path, CONFIG, ENV))
    await refresher.refresh()
    await refresher.refresh()
    assert errors(refresher, "flaky", "empty") == 0
    assert refresher.snapshot.accounts[("fake", "flaky")].up


async def test_concurrent_refreshes_join_the_one_in_flight(tmp_path: Path, fakes: Fakes) -> None:
    gate = asyncio.Event()

    async def slow(_config, _ctx):  # type: ignore[no-untyped-def]
        await gate.wait()
        return spend("1")

    fakes.behaviours["good"] = slow
    fakes.returns("flaky", spend("2"))
    refresher = make_refresher(
        tmp_path, make_config(tmp_path, CONFIG, ENV), COST_COLLECTOR_TIMEOUT_S="5"
    )
    waiters = [asyncio.create_task(refresher.refresh()) for _ in range(50)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*waiters)
    assert fakes.calls == {"good": 1, "flaky": 1}
    assert len({id(r) for r in results}) == 1


async def test_a_corrupt_snapshot_file_is_set_aside_not_fatal(tmp_path: Path, fakes: Fakes) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    refresher.state_path.write_text("{not json")
    restarted = make_refresher(tmp_path, refresher.config)
    restarted.restore()
    assert mtd(restarted, "good") is None
    assert refresher.state_path.with_suffix(".corrupt").exists()


async def test_caps_come_from_the_current_config_even_with_a_fresh_restored_snapshot(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    capped = CONFIG + "budgets:\n  - {provider: fake, account: good, monthly: 42}\n"
    restarted = make_refresher(tmp_path, make_config(tmp_path, capped, ENV))
    restarted.restore()
    assert restarted.due() == []
    assert (
        b'cost_budget{account="good",currency="USD",provider="fake"} 42.0'
        in restarted.rendered.text
    )
    restarted.reload(
        make_config(
            tmp_path, CONFIG + "budgets:\n  - {provider: fake, account: good, monthly: 7}\n", ENV
        )
    )
    assert (
        b'cost_budget{account="good",currency="USD",provider="fake"} 7.0' in restarted.rendered.text
    )
    assert mtd(restarted, "good") == 10.0
    assert refresher.snapshot.accounts.keys() == restarted.snapshot.accounts.keys()


async def test_a_credit_balance_floor_is_exported_only_where_configured(
    tmp_path: Path, fakes: Fakes
) -> None:
    fakes.returns("good", spend("1"))
    fakes.returns("flaky", spend("2"))
    floors = CONFIG + "budgets:\n  - {provider: fake, account: good, credit_balance_min: 10}\n"
    refresher = make_refresher(tmp_path, make_config(tmp_path, floors, ENV))
    text = refresher.rendered.text.decode()
    assert 'cost_credit_balance_min{account="good",currency="USD",provider="fake"} 10.0' in text
    assert 'cost_credit_balance_min{account="flaky"' not in text


async def test_a_changed_usage_limit_makes_its_account_due_once(
    tmp_path: Path, fakes: Fakes
) -> None:
    """A collector may shape its samples by the limits (a limited table is never folded
    into `other`), so new limits are collected at once, on a reload or a restart."""
    refresher = await first_good_refresh(tmp_path, fakes)
    assert refresher.due() == []
    limited = CONFIG + (
        "budgets:\n  - {provider: fake, account: good, usage_limits: {'rows:public.t': 5}}\n"
    )
    restarted = make_refresher(tmp_path, make_config(tmp_path, limited, ENV))
    restarted.restore()
    assert [e.config.account for e in restarted.due()] == ["good"]
    seen: list[frozenset[str]] = []

    async def behaviour(_config: object, ctx: Context) -> list[Sample]:
        seen.append(ctx.usage_limits)
        return spend("10")

    fakes.behaviours["good"] = behaviour
    await restarted.refresh_due()
    assert seen == [frozenset({"rows:public.t"})]
    assert restarted.due() == []
    restarted.reload(make_config(tmp_path, CONFIG, ENV))
    assert [e.config.account for e in restarted.due()] == ["good"]


async def test_the_ledger_is_handed_back_kept_on_failure_and_survives_a_restart(
    tmp_path: Path, fakes: Fakes
) -> None:
    seen: list[dict[str, dict[str, Decimal]]] = []

    async def records(_config: object, ctx: Context) -> list[Sample]:
        seen.append({name: dict(days) for name, days in ctx.ledger.items()})
        days = ctx.ledger.setdefault("requests:p", {})
        days[f"2026-11-{len(days) + 1:02d}"] = Decimal(len(days) + 1)
        return spend("10")

    async def breaks(_config: object, ctx: Context) -> list[Sample]:
        ctx.ledger["requests:p"]["2026-11-09"] = Decimal(999)  # a half-read collection
        raise RuntimeError("down")

    fakes.behaviours["good"] = records
    fakes.returns("flaky", spend("1"))
    refresher = make_refresher(tmp_path, make_config(tmp_path, CONFIG, ENV))
    await refresher.refresh()
    fakes.behaviours["good"] = breaks
    await refresher.refresh()
    assert refresher.snapshot.accounts[("fake", "good")].ledger == {
        "requests:p": {"2026-11-01": Decimal(1)}
    }
    restarted = make_refresher(tmp_path, refresher.config)
    restarted.restore()
    fakes.behaviours["good"] = records
    await restarted.refresh()
    assert seen == [{}, {"requests:p": {"2026-11-01": Decimal(1)}}]
    assert restarted.snapshot.accounts[("fake", "good")].ledger == {
        "requests:p": {"2026-11-01": Decimal(1), "2026-11-02": Decimal(2)}
    }


async def test_a_snapshot_written_before_the_ledger_existed_still_loads(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = await first_good_refresh(tmp_path, fakes)
    data = json.loads(refresher.state_path.read_text())
    for account in data["accounts"]:  # the format of FORMAT_VERSION 1 before the ledger
        del account["ledger"], account["usage_limits"]
    refresher.state_path.write_text(json.dumps(data))
    restarted = make_refresher(tmp_path, refresher.config)
    restarted.restore()
    assert mtd(restarted, "flaky") == 20.0
    state = restarted.snapshot.accounts[("fake", "good")]
    assert (state.ledger, state.usage_limits) == ({}, None)
    assert restarted.due() == []  # an unknown limit set is no reason to collect again
