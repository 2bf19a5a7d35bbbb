"""remote_write end to end on loopback, with the shipped prometheus/remote-write.example.yml.

The real exporter collects from the fake billing APIs, a real Prometheus scrapes it, runs the
shipped rules and remote-writes through an entry of the shipped example (only its address,
credentials and send deadline changed) to a second real Prometheus started with
`--web.enable-remote-write-receiver`, the protocol Mimir, Thanos Receive and VictoriaMetrics
accept. The receiver must hold `cost_month_to_date` and the recorded series, nothing the
relabelling drops, and answer the Costs dashboard's queries as the first one does.

Backfill for a remote store: remote_write reads the WAL, so history never travels that way.
The test loads `cost-exporter backfill` output into the receiver's own data directory with
`promtool tsdb create-blocks-from openmetrics` before starting it, and the dashboard's
long-range query answers a backfilled day from the receiver.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_panels import all_panels, committed_dashboard
from tests.e2e import binaries
from tests.e2e.conftest import StartStack
from tests.e2e.harness import load_yaml, wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "prometheus" / "remote-write.example.yml"
DASHBOARD = committed_dashboard()
STEP_TIMEOUT_S = 120
RECEIVE_TIMEOUT_S = 60
ALL = ".*"
MTD_SUM = (
    "sum(max by (provider, account, service_name, currency, source, charge_frequency) "
    "(cost_month_to_date{"
)
LONG_RANGE = "last_over_time(cost_month_to_date{"


def dashboard_query(start: str) -> str:
    """The first Costs panel query starting with `start`, its variables set to "All"."""
    for panel in all_panels(DASHBOARD):
        for target in panel.get("targets", ()):
            if target["expr"].startswith(start) or (
                start == LONG_RANGE and start in target["expr"]
            ):
                expr = str(target["expr"])
                for name in ("provider", "account", "model", "app"):
                    expr = expr.replace(f"${name}", ALL)
                return expr
    raise AssertionError(f"no dashboard query like {start!r}")


def shipped_entry(url: str) -> dict[str, Any]:
    """The example's first remote_write entry pointed at `url`: same series, no credentials."""
    entry = copy.deepcopy(load_yaml(EXAMPLE)["remote_write"][0])
    entry["url"] = url
    entry.pop("basic_auth", None)
    entry.pop("headers", None)
    entry["queue_config"]["batch_send_deadline"] = "1s"
    return dict(entry)


def query(url: str, promql: str, at: float | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"query": promql}
    if at is not None:
        params["time"] = at
    response = httpx.get(f"{url}/api/v1/query", params=params, timeout=10)
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def one_value(url: str, promql: str, at: float | None = None) -> float | None:
    result = query(url, promql, at)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def first_sample(openmetrics: str, name: str) -> tuple[str, float, int]:
    """(selector, value, timestamp) of the first `name` sample of a backfill file."""
    for line in openmetrics.splitlines():
        match = re.fullmatch(r"(\S+\{.*\}) (\S+) (\d+)", line)
        if line.startswith(name + "{") and match:
            return match[1], float(match[2]), int(match[3])
    raise AssertionError(f"no {name} sample in the backfill output")


def test_the_example_passes_promtool_check_config() -> None:
    promtool = binaries.require(binaries.PROMTOOL)
    run = subprocess.run(
        [promtool, "check", "config", str(EXAMPLE)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_second_prometheus_receives_the_costs_and_answers_the_dashboard(
    start_stack: StartStack, prometheus_on: Any, tmp_path: Path
) -> None:
    from tests.fake_providers import FakeProviders

    promtool = binaries.require(binaries.PROMTOOL)
    with FakeProviders() as fake:
        # A month of Vercel history, loaded into the receiver's own data directory.
        history = tmp_path / "history.om"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            **fake.env(["vercel"]),
            "COST_STATE_DIR": str(tmp_path / "backfill-state"),
            "COST_HTTP_MAX_ATTEMPTS": "1",
        }
        argv = [sys.executable, "-m", "cost_exporter", "backfill", "--months", "1"]
        run = subprocess.run(
            [*argv, "--provider", "vercel", "--output", str(history)],
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        data = tmp_path / "receiver-data"
        load = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(history), str(data)],
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        assert load.returncode == 0, load.stdout + load.stderr
        receiver_url = prometheus_on(data, "--web.enable-remote-write-receiver")

        # The live pipeline, remote-writing through the shipped example's entry.
        budgets = [{"provider": "vercel", "monthly": 20}]
        stack = start_stack(
            fake.config(budgets),
            env=fake.env(),
            remote_write=[shipped_entry(f"{receiver_url}/api/v1/write")],
        )
        wait_until(
            lambda: (
                query(receiver_url, "cost_month_to_date")
                and query(receiver_url, "provider_account:cost_month_to_date:sum")
                and query(receiver_url, "provider:cost_month_to_date:sum")
            ),
            "the receiver to hold cost_month_to_date and the recorded series",
            RECEIVE_TIMEOUT_S,
            stack.diagnostics,
        )

        # The dashboard's month-to-date total answers from the receiver as from the source.
        total = dashboard_query(MTD_SUM)
        local = one_value(stack.prometheus_url, total)
        assert local is not None and local > 0
        wait_until(
            lambda: one_value(receiver_url, total) == pytest.approx(local),
            f"the receiver to answer {total} with {local}",
            RECEIVE_TIMEOUT_S,
            stack.diagnostics,
        )
        recorded = one_value(receiver_url, "sum(provider:cost_month_to_date:sum)")
        assert recorded == pytest.approx(local)

        # Only what the example keeps travels: no `up`, no Prometheus internals.
        assert not query(receiver_url, "up")
        assert not query(receiver_url, '{__name__=~"prometheus_.+"}')
        assert query(stack.prometheus_url, "up")

        # The backfilled history answers from the receiver, long-range query included.
        selector, value, timestamp = first_sample(history.read_text(), "cost_month_to_date")
        assert one_value(receiver_url, selector, timestamp + 60) == pytest.approx(value)
        long_range = dashboard_query(LONG_RANGE)
        assert query(receiver_url, long_range, timestamp + 12 * 3600), long_range
        # The source Prometheus never saw that history: blocks do not go through the WAL.
        assert not query(stack.prometheus_url, selector, timestamp + 60)
