"""`cost-exporter collect --once` end to end, against the local fake provider APIs.

The exporter runs as a subprocess, exactly as a user would run it, with its environment and
config file pointing every HTTP provider at `tests.fake_providers`. The fake dates its records
from its clock, and the exporter runs under libfaketime at the same moment, so no test reads
the wall clock; `expected_month_to_date` gives the totals.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cost_exporter import catalog, health
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers import REGISTRY, env_specs
from cost_exporter.providers.base import Context
from cost_exporter.settings import load_config
from tests.e2e import binaries
from tests.fake_providers import (
    CF_BLOG,
    CF_SHOP,
    OPENROUTER_API_KEY,
    PROVIDERS,
    VERCEL_FUNCTION_INVOCATIONS,
    FakeProviders,
    expected_manual_month_to_date,
    expected_month_to_date,
)

RUN_TIMEOUT_S = 60
# Any moment works (the parametrised test below tries the hard ones in process); this
# one is fixed so the subprocess and the fake agree without reading the wall clock.
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
# A usage limit the fake's Vercel usage (1.6M invocations) exceeds, as the alert tests need.
INVOCATION_LIMIT = 1
BUDGETS = [
    {
        "provider": "vercel",
        "monthly": 20,
        "usage_limits": {"function_invocations": INVOCATION_LIMIT},
    }
]
CENT = Decimal("0.01")


# One worker starts the fake provider server once for the whole module.
pytestmark = pytest.mark.xdist_group("collect_once")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(clock=lambda: NOW) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeProviders) -> Iterator[None]:
    fake.heal()
    fake.reset_counts()
    yield
    fake.heal()
    fake.latency_s = 0.0


@dataclass
class Table:
    """What `collect --once` printed, read back."""

    states: dict[str, tuple[str, str]] = field(default_factory=dict)
    month_to_date: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    subtotals: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    usage: dict[tuple[str, str], Decimal] = field(default_factory=dict)


def read_table(stdout: str) -> Table:
    table, section = Table(), "states"
    for line in stdout.splitlines():
        if not line.strip() or line.startswith(("provider ", "total ")):
            continue
        if line.startswith("Month to date"):
            section = "mtd"
            continue
        if line.startswith("Usage this month"):
            section = "usage"
            continue
        words = line.split()
        if words[0] == "subtotal":
            provider, account = words[1].split("/")
            table.subtotals[(provider, account)] = Decimal(words[-1])
            continue
        if section == "states":
            table.states[words[0]] = (words[2], " ".join(words[3:]))
        elif section == "mtd":
            table.month_to_date[words[0]] += Decimal(words[-1])
            table.services.add(line)
        else:
            table.usage[(words[0], words[2])] = Decimal(words[-1].replace(",", ""))
    return table


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    today: date
    table: Table


def collect_once(fake: FakeProviders, tmp_path: Path, **extra: str) -> Run:
    env = fake.exporter_env(
        tmp_path,
        BUDGETS,
        COST_LOG_LEVEL="warning",
        COST_COLLECTOR_TIMEOUT_S="20",
        COST_HTTP_TIMEOUT_S="10",
    )
    env.update(extra)
    result = subprocess.run(
        binaries.exporter_at(NOW, "collect", "--once"),
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    table = read_table(result.stdout)
    return Run(result.returncode, result.stdout, result.stderr, NOW.date(), table)


def expected_totals(today: date, providers: tuple[str, ...] = PROVIDERS) -> dict[str, Decimal]:
    """Printed month-to-date per provider label: the API collectors plus the fixed bills."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for provider, amount in expected_month_to_date(today).items():
        if provider in providers and amount is not None:
            totals[provider] += amount
    for provider, amount in expected_manual_month_to_date(today).items():
        totals[provider] += amount
    return dict(totals)


def assert_totals(printed: dict[str, Decimal], expected: dict[str, Decimal]) -> None:
    assert set(printed) == set(expected), printed
    for provider, amount in expected.items():
        if provider == "wasabi":  # an estimate with 6 decimals, printed to the cent
            assert abs(printed[provider] - amount) <= CENT, (provider, printed[provider], amount)
        else:
            assert printed[provider] == amount, (provider, printed[provider], amount)


def test_collect_once_reads_every_provider_from_the_fake(
    fake: FakeProviders, tmp_path: Path
) -> None:
    run = collect_once(fake, tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.table.states == {p: ("ok", "") for p in (*PROVIDERS, "manual")}, run.stdout
    assert_totals(dict(run.table.month_to_date), expected_totals(run.today))
    # Round, date-independent figures (Wasabi grows with the completed days of the month).
    assert run.table.month_to_date["vercel"] == Decimal("26.50")
    assert run.table.month_to_date["cloudflare"] == Decimal("8.00")
    assert run.table.month_to_date["supabase"] == Decimal("25.00")
    assert run.table.month_to_date["openai"] == Decimal("8.00")
    assert run.table.month_to_date["anthropic"] == Decimal("56.00") + Decimal("199.80")
    # A subtotal per provider account, to the cent, as its console shows the month.
    subtotals = {(p, "default"): amount for p, amount in expected_totals(run.today).items()}
    assert set(run.table.subtotals) == set(subtotals)
    for key, amount in subtotals.items():
        tolerance = CENT if key[0] == "wasabi" else 0  # an estimate, printed to the cent
        assert abs(run.table.subtotals[key] - amount) <= tolerance, (key, amount)
    # Service names are never cut.
    assert any("gpt-4o-mini-2024-07-18, input " in line for line in run.table.services)
    invocations = run.table.usage[("vercel", "function_invocations")]
    assert invocations == VERCEL_FUNCTION_INVOCATIONS > INVOCATION_LIMIT
    assert all(fake.requests_for(p) > 0 for p in PROVIDERS), fake.requests


def test_a_provider_answering_500_fails_alone(fake: FakeProviders, tmp_path: Path) -> None:
    fake.fail("cloudflare", 500)

    run = collect_once(fake, tmp_path, COST_HTTP_MAX_ATTEMPTS="2")

    assert run.returncode == 1, run.stdout
    state, error = run.table.states["cloudflare"]
    assert state == "FAILED"
    assert "HTTP 500" in error
    others = {p: s for p, s in run.table.states.items() if p != "cloudflare"}
    assert others == {p: ("ok", "") for p in (*PROVIDERS, "manual") if p != "cloudflare"}
    healthy = tuple(p for p in PROVIDERS if p != "cloudflare")
    assert_totals(dict(run.table.month_to_date), expected_totals(run.today, healthy))
    # The first request, tried COST_HTTP_MAX_ATTEMPTS times (Retry-After: 0), then nothing.
    assert fake.requests_for("cloudflare") == 2


@pytest.mark.parametrize(
    "now",
    [
        datetime(2027, 1, 1, 0, 30, tzinfo=UTC),  # the 1st: no completed day, previous year
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),  # the 1st after a short month
        datetime(2026, 3, 2, 0, 1, tzinfo=UTC),
        datetime(2028, 2, 29, 23, 59, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
    ],
    ids=str,
)
async def test_the_fake_is_valid_on_any_date(now: datetime, tmp_path: Path) -> None:
    """Every collector, in process, against a fake whose clock says `now`."""
    with FakeProviders(clock=lambda: now) as fake:
        path = fake.write_config(tmp_path / "costs.yml", manual=False)
        config = load_config(fake.env(), path, env_specs())
        http = HttpClient(retry=RetryPolicy(max_attempts=1))
        totals: dict[str, Decimal | None] = {}
        try:
            for entry in config.accounts:
                ctx = Context(http=http, now=now)
                outcome = await health.run(REGISTRY[entry.provider], entry, ctx, config, 10)
                assert outcome.ok, (entry.provider, outcome.error_message)
                assert outcome.samples is not None
                assert outcome.skipped_records == 0, entry.provider
                mtd = [s.value for s in outcome.samples if s.family is catalog.MONTH_TO_DATE]
                if entry.provider == "cloudflare":  # per zone and per Worker script too
                    zones = {
                        s.label("zone"): s.value
                        for s in outcome.samples
                        if s.family is catalog.ZONE_MONTH_TO_DATE
                    }
                    assert zones == {CF_SHOP: Decimal("0.75"), CF_BLOG: Decimal("1.20")}
                    workers = {
                        s.label("script")
                        for s in outcome.samples
                        if s.family is catalog.WORKER_USAGE
                    }
                    assert workers == {"api", "cron"}
                if entry.provider == "openrouter":  # the keys of every workspace
                    keys = {
                        s.label("api_key"): s.value
                        for s in outcome.samples
                        if s.family is catalog.AI_SPEND_BY_API_KEY
                    }
                    assert keys["research-agent"] == Decimal("2.75")  # not the default one
                    assert sum(keys.values()) == Decimal("10.43")
                totals[entry.provider] = sum(mtd, Decimal(0)) if mtd else None
        finally:
            await http.aclose()
    assert totals == expected_month_to_date(now.date())


async def test_wasabi_with_its_s3_inventory_from_the_environment_alone(
    fake: FakeProviders,
) -> None:
    config = load_config(fake.env(["wasabi"]), None, env_specs())
    [entry] = config.accounts
    http = HttpClient(retry=RetryPolicy(max_attempts=1))
    try:
        ctx = Context(http=http, now=NOW)
        outcome = await health.run(REGISTRY["wasabi"], entry, ctx, config, 20)
    finally:
        await http.aclose()
    assert outcome.ok, outcome.error_message
    assert outcome.samples is not None
    usage = {s.label("metric"): s.value for s in outcome.samples if s.family is catalog.USAGE}
    assert (usage["buckets"], usage["bucket_regions"]) == (Decimal(2), Decimal(2))
    assert fake.requests["/wasabi-s3"] == 1


def test_latency_counting_and_credentials(fake: FakeProviders) -> None:
    fake.latency_s = 0.05
    url = fake.base_url("openrouter") + "/credits"
    with httpx.Client(timeout=10) as client:
        denied = client.get(url)
        answered = client.get(url, headers={"Authorization": f"Bearer {OPENROUTER_API_KEY}"})
        assert answered.elapsed.total_seconds() >= 0.05
    assert denied.status_code == 401
    assert answered.json() == {"data": {"total_credits": 100, "total_usage": 25.25}}
    assert fake.requests == {"/openrouter/api/v1/credits": 2}
