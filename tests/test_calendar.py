"""A month in the life (tests/calendar_month.py): 62 simulated days, checked in the exporter's
own output and through the shipped alert rules.

The pages the exporter served each day become a promtool test: simulated 1 January 2027
00:00 UTC is promtool's time 0 (1 January 1970, so day_of_month() agrees), timestamp-valued
series are shifted by the same offset, and every page holds from its collection (00:10)
until the next one. What must never fire is a query over ALERTS across the 62 days.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.calendar_month import (
    DAYS,
    FIRST_DAY,
    Page,
    Run,
    forecast_errors,
    midnight,
    simulate,
)
from tests.e2e import binaries

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "prometheus" / "rules" / "costs.yml"
OFFSET = midnight(FIRST_DAY).timestamp()  # simulated time - OFFSET = promtool time
HOURS = DAYS * 24
TARGET = {"job": "cost-exporter", "instance": "cost-exporter:9210"}
PROMTOOL_TIMEOUT_S = 120


# One worker runs the 62 simulated days once for the whole module (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("calendar")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return asyncio.run(simulate(tmp_path_factory.mktemp("calendar")))


def page_on(run: Run, day: date) -> Page:
    return next(page for page in run.pages if page.collected_at.date() == day)


# --- the exporter's own output, day by day ----------------------------------------------


def test_every_collection_of_the_62_days_succeeds(run: Run) -> None:
    assert len(run.pages) == 62
    assert [p.collected_at.date() for p in run.pages][-1] == date(2027, 3, 3)
    assert run.failed == []


def test_the_forecast_of_steady_usage_is_within_25_percent_from_the_5th(run: Run) -> None:
    checked = 0
    for day, errors in forecast_errors(run):
        if day.day < 5:
            continue
        for account in (("vercel", "calm"), ("openai", "default"), ("ionos", "default")):
            error = errors[account]
            assert error is not None and abs(error) <= 0.25, (day, account, error)
            checked += 1
    assert checked == 3 * (27 + 24)  # 5..31 January, 5..28 February


def test_a_plan_fee_and_a_credit_are_never_extrapolated(run: Run) -> None:
    # 2 January: the plan (20) and the 1st's usage (1): 20 + 1 x 31 days = 51, not 21 x 31.
    assert page_on(run, date(2027, 1, 2)).value(
        "cost_forecast_month_end", account="calm"
    ) == pytest.approx(51)
    # 3 January: the -5 credit of the 2nd is known: 20 - 5 + 1 x 31 = 46, the true month-end.
    assert page_on(run, date(2027, 1, 3)).value(
        "cost_forecast_month_end", account="calm"
    ) == pytest.approx(46)


def test_yesterdays_burn_is_usage_only(run: Run) -> None:
    # The 2nd reports the 1st: 1 of usage, not the 20 of the plan bought that day.
    for day in (date(2027, 1, 2), date(2027, 2, 2), date(2027, 3, 2)):
        assert page_on(run, day).value("cost_last_day", account="calm") == pytest.approx(1)
    # The 3rd reports the 2nd: 1 of usage, not 1 - 5 with the credit.
    assert page_on(run, date(2027, 1, 3)).value("cost_last_day", account="calm") == 1


def test_month_to_date_restarts_at_each_rollover(run: Run) -> None:
    calm = {"provider": "vercel", "account": "calm"}
    # 31 January sees 1..30 January: 20 + 30 - 5.
    assert page_on(run, date(2027, 1, 31)).value("cost_month_to_date", **calm) == 45
    # The 1st: no day of February has ended, so nothing yet (never January's total).
    assert page_on(run, date(2027, 2, 1)).value("cost_month_to_date", **calm) is None
    assert page_on(run, date(2027, 2, 1)).value("cost_previous_month", **calm) == 46
    assert page_on(run, date(2027, 2, 2)).value("cost_month_to_date", **calm) == 21
    assert page_on(run, date(2027, 3, 1)).value("cost_previous_month", **calm) == 43
    # The fixed bill starts the month in full.
    assert page_on(run, date(2027, 2, 1)).value("cost_month_to_date", provider="ionos") == 6.48


# --- the same output through the shipped rules ---------------------------------------------


def promtool_time(moment: datetime) -> str:
    hours = int((moment.timestamp() - OFFSET) // 3600)
    return f"{hours // 24}d{hours % 24}h"


def series_name(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted({**labels, **TARGET}.items()))
    return f"{name}{{{inner}}}"


def values_text(points: list[float | None]) -> str:
    """promtool's notation: runs of a value as `v+0xN` (N+1 samples), `_` where missing."""
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[i]:
            j += 1
        value = points[i]
        if value is None:
            out += ["_"] * (j - i + 1)
        else:
            out.append(f"{value!r}+0x{j - i}")
        i = j + 1
    return " ".join(out)


def input_series(run: Run) -> list[dict[str, str]]:
    """Each served series at every hour from its collection to the next (00:10 each day:
    a day's page holds from 01:00 to the next midnight)."""
    hourly: dict[tuple[str, tuple[tuple[str, str], ...]], list[float | None]] = {}
    for day, page in enumerate(run.pages):
        first, last = day * 24 + 1, min((day + 1) * 24, HOURS)
        for (name, labels), value in page.series.items():
            if name.endswith("_timestamp_seconds"):
                value -= OFFSET
            points = hourly.setdefault((name, labels), [None] * (HOURS + 1))
            for hour in range(first, last + 1):
                points[hour] = value
    found = [
        {"series": series_name(name, dict(labels)), "values": values_text(points)}
        for (name, labels), points in sorted(hourly.items())
    ]
    # Prometheus scraped the exporter all along (else CostExporterAbsent would fire).
    found.append({"series": series_name("up", {}), "values": f"1+0x{HOURS}"})
    return found


def spiky_alert(state: str) -> dict[str, str]:
    return {
        "__name__": "ALERTS",
        "alertname": "DailySpendHigh",
        "alertstate": state,
        "severity": "warning",
        "cap": "daily_budget",
        "provider": "vercel",
        "account": "spiky",
        "currency": "USD",
    }


def expr_tests() -> list[dict[str, object]]:
    # promtool time 20d is 21 January 00:00, just before the collection (00:10) that is
    # the first to see the spike of the 20th.
    return [
        # Nothing fires for 20 days: no plan fee, credit or rollover pages anyone.
        {
            "expr": 'count_over_time(ALERTS{alertstate="firing"}[20d])',
            "eval_time": "20d",
            "exp_samples": [],
        },
        # 21 January: 01:00 is the first evaluation after the 00:10 collection (pending,
        # `for: 15m`), 02:00 fires; the 22nd's collection sees a normal day: resolved.
        {
            "expr": 'ALERTS{alertname="DailySpendHigh"}',
            "eval_time": "20d1h",
            "exp_samples": [{"labels": labels_text(spiky_alert("pending")), "value": 1}],
        },
        {
            "expr": 'ALERTS{alertname="DailySpendHigh"}',
            "eval_time": "20d2h",
            "exp_samples": [{"labels": labels_text(spiky_alert("firing")), "value": 1}],
        },
        {"expr": 'ALERTS{alertname="DailySpendHigh"}', "eval_time": "21d1h", "exp_samples": []},
        # Over all 62 days, the only alert that ever fired is that one, for 23 hourly
        # evaluations (21 January 02:00 to 22 January 00:00).
        {
            "expr": 'sum by (alertname, account) (count_over_time(ALERTS{alertstate="firing"}[62d]))',
            "eval_time": "62d",
            "exp_samples": [
                {"labels": '{account="spiky",alertname="DailySpendHigh"}', "value": 23}
            ],
        },
        # Rollovers: the recorded month-to-date of calm is January's up to the 1st's
        # collection, gone until February's first day has ended, then February's.
        {
            "expr": 'provider_account:cost_month_to_date:sum{account="calm"}',
            "eval_time": "31d",
            "exp_samples": [
                {
                    "labels": '{__name__="provider_account:cost_month_to_date:sum",account="calm",currency="USD",provider="vercel"}',
                    "value": 45,
                }
            ],
        },
        {
            "expr": 'provider_account:cost_month_to_date:sum{account="calm"}',
            "eval_time": "31d1h",
            "exp_samples": [],
        },
        {
            "expr": 'provider_account:cost_month_to_date:sum{account="calm"}',
            "eval_time": "32d1h",
            "exp_samples": [
                {
                    "labels": '{__name__="provider_account:cost_month_to_date:sum",account="calm",currency="USD",provider="vercel"}',
                    "value": 21,
                }
            ],
        },
    ]


def labels_text(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = {k: v for k, v in labels.items() if k != "__name__"}
    return name + "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(rest.items())) + "}"


def test_the_shipped_rules_page_only_for_the_spike_across_62_days(run: Run, tmp_path: Path) -> None:
    promtool = binaries.require(binaries.PROMTOOL)
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1h",
        "tests": [
            {
                "name": "62 days of the exporter's own output",
                "interval": "1h",
                "input_series": input_series(run),
                "promql_expr_test": expr_tests(),
            }
        ],
    }
    path = tmp_path / "calendar_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False, width=10_000))
    result = subprocess.run(
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_the_promtool_notation_round_trips_runs_and_gaps() -> None:
    assert values_text([None, 1.0, 1.0, 1.0, None, 2.5]) == "_ 1.0+0x2 _ 2.5+0x0"
    assert promtool_time(midnight(FIRST_DAY) + timedelta(days=20, hours=2)) == "20d2h"
