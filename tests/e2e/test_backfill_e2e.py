"""Backfill end to end on loopback: a year of fixture charges from a fake Vercel API ->
`cost-exporter backfill` -> `promtool tsdb create-blocks-from openmetrics` (twice, as a
second run would) -> a real `prometheus` on those blocks -> the HTTP API answers a past
month to date with the value computed from the fixture, once, not doubled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e import binaries
from tests.e2e.harness import (
    FakeHttpServer,
    FakeRequest,
    FakeResponse,
)
from tests.year import Year

pytestmark = pytest.mark.e2e
TOKEN = "e2e-vercel-token-not-a-secret"
STEP_TIMEOUT_S = 120
INVOCATIONS = "Function Invocations"


def midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def months_before(day: date, months: int) -> date:
    first = day.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def query(url: str, promql: str, at: int) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql, "time": at}, timeout=10)
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def only_value(url: str, promql: str, at: int) -> float:
    result = query(url, promql, at)
    assert len(result) == 1, (promql, result)
    return float(result[0]["value"][1])


def test_backfilled_blocks_answer_a_past_month_to_date_in_prometheus(
    tmp_path: Path, prometheus_on: Any
) -> None:
    promtool = binaries.require(binaries.PROMTOOL)
    binaries.require(binaries.PROMETHEUS)
    today = datetime.now(UTC).date()
    year = Year(today - timedelta(days=440), today + timedelta(days=1))

    def charges(request: FakeRequest) -> FakeResponse:
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        url = f"https://api.vercel.com{request.path}?{urlencode(request.query, doseq=True)}"
        return FakeResponse(200, year.vercel(httpx.Request("GET", url)).content)

    output = tmp_path / "costs.om"
    with FakeHttpServer({("GET", "/v1/billing/charges"): charges}) as api:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "VERCEL_API_TOKEN": TOKEN,
            "VERCEL_BASE_URL": api.url,
            "COST_STATE_DIR": str(tmp_path / "state"),
            "COST_HTTP_MAX_ATTEMPTS": "1",
        }
        argv = [sys.executable, "-m", "cost_exporter", "backfill", "--output", str(output)]
        run = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
        )
    assert run.returncode == 0, run.stderr
    assert "backfill: vercel/default: reading history (1/1)" in run.stderr  # plain lines
    assert output.read_text().endswith("# EOF\n")

    # Two loads of the same file: a second backfill run must not double anything.
    blocks = tmp_path / "data"
    # 486h blocks: ~20 for a year instead of one per day (promtool reads the file per block).
    load_argv = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=486h"]
    for _ in range(2):
        load = subprocess.run(
            [*load_argv, str(output), str(blocks)],
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        assert load.returncode == 0, load.stderr + load.stdout
    url = prometheus_on(blocks)

    # The 15th, ten months ago: month to date = the charges of the 1st to the 14th.
    day = months_before(today, 10) + timedelta(days=14)
    expected = year.vercel_month_to_date(day)
    selector = (
        f'cost_month_to_date{{provider="vercel",service_name="{INVOCATIONS}",'
        'charge_frequency="usage_based"}'
    )
    # An instant query right after the day's 00:00 sample, as the live exporter served it.
    value = only_value(url, selector, midnight(day) + 60)
    assert value == pytest.approx(float(expected[(INVOCATIONS, "usage_based")]))
    total = only_value(url, 'sum(cost_month_to_date{provider="vercel"})', midnight(day) + 60)
    assert total == pytest.approx(float(sum(expected.values())))
    # The dashboard's long-range form sees the same value all day long.
    noon = midnight(day) + 12 * 3600
    assert only_value(url, f"last_over_time({selector}[1d])", noon) == pytest.approx(value)
    # Loaded twice, stored once: one sample per day.
    assert only_value(url, f"count_over_time({selector}[1d])", noon) == 1
    # Every series carries the live labels.
    [series] = query(url, selector, midnight(day) + 60)
    assert set(series["metric"]) == {
        "__name__",
        "provider",
        "account",
        "service_name",
        "currency",
        "source",
        "charge_frequency",
    }

    # The oldest month is still there (retention 400d), and last month's total follows it.
    first = months_before(today, 12)
    assert query(url, "cost_month_to_date", midnight(first + timedelta(days=1)) + 60)
    yesterday = today - timedelta(days=1)  # the newest sample: never today's
    previous = only_value(
        url, 'sum(cost_previous_month{provider="vercel"})', midnight(yesterday) + 60
    )
    month_before = year.vercel_between(months_before(yesterday, 1), yesterday.replace(day=1))
    assert previous == pytest.approx(float(sum(month_before.values())))
    assert not query(url, "cost_month_to_date", midnight(today) + 60)
