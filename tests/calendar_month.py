"""A month in the life: the real exporter, collecting once a simulated day for 62 days.

The calendar runs from Friday 1 January 2027 00:00 UTC (a non-leap year, so promtool's
time 0, Thursday 1 January 1970, falls on the same day of the month) to 3 March: a 31-day
month, February and both rollovers. Every day at 00:10 UTC the exporter's own scheduler
(`Refresher.refresh_due`, on an injected clock) collects what is due from fake provider
APIs that answer from the same clock, and the page it would serve is kept.

The fake accounts, each with its amounts written down here (December 2026 too, so the
previous month is known from the first day):

* vercel/calm: the $20 Pro plan (a FOCUS `Purchase`) on the 1st, $1 of function
  invocations a day, and a $5 credit on the 2nd. Budget 60 a month, cap 3 a day: nothing
  may ever fire.
* vercel/spiky: $2 a day, ten times that ($20) on 20 January. Cap 5 a day: DailySpendHigh
  fires at the first collection that sees the 20th, the one of 21 January 00:10.
* openai/default: $3 a day, reported a day late (a day shows once the next one has ended).
* manual/default: a fixed IONOS bill of $6.48 from the config.

`python -m tests.calendar_month` prints the forecast error per simulated day.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cost_exporter import pricing
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers import env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import load_config, load_exporter_settings
from tests.year import Charge

FIRST_DAY = date(2027, 1, 1)
DAYS = 62  # 1 January .. 3 March 2027
COLLECT_AT = timedelta(minutes=10)  # after midnight UTC, every simulated day
HISTORY_FROM = date(2026, 12, 1)  # the fakes know December: a previous month from day one
SPIKE_DAY = date(2027, 1, 20)

VERCEL_TOKEN = "vercel-calendar-token-0123456789"
OPENAI_KEY = "sk-admin-calendar-0123456789abcdef"
CONFIG = """
reporting_currency: USD
budgets:
  - {provider: vercel, account: calm, monthly: 60, daily: 3}
  - {provider: vercel, account: spiky, monthly: 200, daily: 5}
  - {provider: openai, account: default, monthly: 150, daily: 10}
  - {provider: ionos, account: default, monthly: 10}
providers:
  vercel:
    - {account: calm, team_id: team_calm, token_env: VERCEL_TOKEN}
    - {account: spiky, team_id: team_spiky, token_env: VERCEL_TOKEN}
  openai:
    - {account: default, admin_key_env: OPENAI_KEY}
  manual:
    - account: default
      bills:
        - {name: IONOS VPS, provider: ionos, service_name: VPS, amount: 6.48, currency: USD}
"""
# The shipped AI price table is dated (as_of); its age in a simulated 2027 says nothing about
# the rules under test, so the limit covers the whole calendar, derived from the calendar's
# clock and the table's own date, whatever that date is (tests/test_prices.py tests the age).
PRICE_TABLE_MAX_AGE_DAYS = max(
    1, (FIRST_DAY + timedelta(days=DAYS) - pricing.table_as_of()).days + 1
)
CONFIG += f"ai_price_table_max_age_days: {PRICE_TABLE_MAX_AGE_DAYS}\n"
ENV = {"VERCEL_TOKEN": VERCEL_TOKEN, "OPENAI_KEY": OPENAI_KEY}

# What each account spends in a whole month, worked out from the calendar above:
# calm: 20 plan - 5 credit + 1 a day; spiky: 2 a day + 18 more on the 20th; openai: 3 a day.
TRUE_MONTH_END: dict[tuple[str, str], dict[tuple[int, int], Decimal]] = {
    ("vercel", "calm"): {(2027, 1): Decimal(46), (2027, 2): Decimal(43), (2027, 3): Decimal(46)},
    ("vercel", "spiky"): {(2027, 1): Decimal(80), (2027, 2): Decimal(56), (2027, 3): Decimal(62)},
    ("openai", "default"): {(2027, 1): Decimal(93), (2027, 2): Decimal(84), (2027, 3): Decimal(93)},
    ("ionos", "default"): {
        (2027, 1): Decimal("6.48"),
        (2027, 2): Decimal("6.48"),
        (2027, 3): Decimal("6.48"),
    },
}


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def calendar_days() -> list[date]:
    return [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]


# --- the charges of each fake account -----------------------------------------------------


def vercel_charges(team: str, day: date) -> list[Charge]:
    if team == "team_calm":
        charges = [Charge(day, "Function Invocations", Decimal(1))]
        if day.day == 1:
            charges.append(Charge(day, "Pro Plan", Decimal(20), "Purchase"))
        if day.day == 2:
            charges.append(Charge(day, "Function Invocations", Decimal(-5), "Credit"))
        return charges
    amount = Decimal(20) if day == SPIKE_DAY else Decimal(2)
    return [Charge(day, "Function Invocations", amount)]


def openai_cost(day: date) -> Decimal:
    del day  # steady
    return Decimal(3)


# --- the fake APIs, answering from the simulated clock ------------------------------------


@dataclass
class FakeApis:
    clock: Callable[[], datetime]
    requests: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.url.host == "api.vercel.com":
            return self.vercel(request)
        if request.url.host == "api.openai.com":
            return self.openai(request)
        return httpx.Response(404, json={"error": f"no fake for {request.url}"})

    def vercel(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {VERCEL_TOKEN}":
            return httpx.Response(401, json={"error": {"code": "forbidden"}})
        query = parse_qs(request.url.query.decode())
        since = datetime.fromisoformat(query["from"][0].replace("Z", "+00:00"))
        until = datetime.fromisoformat(query["to"][0].replace("Z", "+00:00"))
        team = query["teamId"][0]
        lines = []
        for day in days_between(max(since.date(), HISTORY_FROM), until.date() + timedelta(1)):
            start = midnight(day)
            # A day's charges show once it has ended, and only inside [from, to).
            if since <= start and start + timedelta(days=1) <= min(until, self.clock()):
                lines += [charge.line() for charge in vercel_charges(team, day)]
        body = "".join(line + "\n" for line in lines)
        return httpx.Response(200, text=body, headers={"Content-Type": "application/jsonl"})

    def openai(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {OPENAI_KEY}":
            return httpx.Response(401, json={"error": {"message": "invalid key"}})
        query = parse_qs(request.url.query.decode())
        now = self.clock()
        start = datetime.fromtimestamp(int(query["start_time"][0]), UTC)
        end = datetime.fromtimestamp(int(query["end_time"][0]), UTC) if "end_time" in query else now
        costs = request.url.path.endswith("/organization/costs")
        buckets = []
        for day in days_between(start.date(), end.date() + timedelta(days=1)):
            bucket_start = midnight(day)
            if not start <= bucket_start < end:
                continue
            # One day late: a day's costs appear once the day after it has ended too.
            reported = bucket_start + timedelta(days=2) <= now and day >= HISTORY_FROM
            results = [openai_result(day)] if costs and reported else []
            buckets.append(
                {
                    "object": "bucket",
                    "start_time": int(bucket_start.timestamp()),
                    "end_time": int((bucket_start + timedelta(days=1)).timestamp()),
                    "results": results,
                }
            )
        return httpx.Response(
            200, json={"object": "page", "data": buckets, "has_more": False, "next_page": None}
        )


def days_between(first: date, end: date) -> Iterator[date]:
    day = first
    while day < end:
        yield day
        day += timedelta(days=1)


def openai_result(day: date) -> dict[str, Any]:
    return {
        "object": "organization.costs.result",
        "amount": {"value": float(openai_cost(day)), "currency": "usd"},
        "line_item": "gpt-4o-2024-08-06, input",
        "project_id": "proj_calendar",
        "api_key_id": None,
    }


# --- the simulation ---------------------------------------------------------------------


Labels = tuple[tuple[str, str], ...]


@dataclass
class Page:
    """What /metrics served after one simulated day's collection."""

    collected_at: datetime
    series: dict[tuple[str, Labels], float]

    def value(self, name: str, **labels: str) -> float | None:
        found = [
            v
            for (n, key), v in self.series.items()
            if n == name and all(dict(key).get(k) == w for k, w in labels.items())
        ]
        return sum(found) if found else None


@dataclass
class Run:
    pages: list[Page] = field(default_factory=list)
    failed: list[tuple[datetime, str, str]] = field(default_factory=list)
    requests: int = 0


def parse_page(text: str, collected_at: datetime) -> Page:
    series: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in series:  # a repeated series would hide behind a dict key
                raise ValueError(f"{sample.name}{dict(key[1])} twice on one page")
            series[key] = sample.value
    return Page(collected_at, series)


async def simulate(state_dir: Path) -> Run:
    """Collect once a simulated day, as the scheduler would, and keep each served page."""
    now = [midnight(FIRST_DAY)]
    apis = FakeApis(clock=lambda: now[0])
    config_file = state_dir / "config.yml"
    config_file.write_text(CONFIG)
    config = load_config(ENV, config_file, env_specs())
    settings = load_exporter_settings({"COST_STATE_DIR": str(state_dir / "state")})
    client = httpx.AsyncClient(transport=httpx.MockTransport(apis))
    http = HttpClient(client, retry=RetryPolicy(max_attempts=1))
    refresher = Refresher(settings, config, http, clock=lambda: now[0])
    run = Run()
    try:
        for day in calendar_days():
            now[0] = midnight(day) + COLLECT_AT
            result = await refresher.refresh_due()
            for outcome in result.accounts if result else ():
                if not outcome.ok:
                    run.failed.append((now[0], outcome.provider, outcome.error_message or ""))
            run.pages.append(parse_page(refresher.rendered.text.decode(), now[0]))
    finally:
        await http.aclose()
    run.requests = apis.requests
    return run


# --- the forecast error table -------------------------------------------------------------


def forecast_errors(run: Run) -> list[tuple[date, dict[tuple[str, str], float | None]]]:
    """Per simulated day: the forecast's error against the true month-end, per account
    (None where the exporter published no forecast)."""
    rows = []
    for page in run.pages:
        day = page.collected_at.date()
        errors: dict[tuple[str, str], float | None] = {}
        for (provider, account), months in TRUE_MONTH_END.items():
            truth = months[(day.year, day.month)]
            forecast = page.value("cost_forecast_month_end", provider=provider, account=account)
            errors[(provider, account)] = None if forecast is None else forecast / float(truth) - 1
        rows.append((day, errors))
    return rows


def print_table(run: Run, out: Any = sys.stdout) -> None:
    accounts = list(TRUE_MONTH_END)
    header = "day         " + "".join(f"{p + '/' + a:>17}" for p, a in accounts)
    print("Forecast error against the true month-end, per simulated day (collection 00:10 UTC)")
    print(header, file=out)
    for day, errors in forecast_errors(run):
        cells = "".join(
            f"{'-':>17}" if errors[key] is None else f"{errors[key]:>+16.1%} " for key in accounts
        )
        print(f"{day.isoformat()}  {cells}", file=out)


def main() -> None:
    import tempfile

    from cost_exporter import logs

    logs.configure("warning", "console")  # the table, not 248 lines of collection logs

    with tempfile.TemporaryDirectory() as folder:
        run = asyncio.run(simulate(Path(folder)))
    print_table(run)
    print(f"\n{len(run.pages)} collections, {run.requests} requests, {len(run.failed)} failed")


if __name__ == "__main__":
    main()
