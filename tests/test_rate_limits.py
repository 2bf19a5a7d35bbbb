"""Many accounts inside every rate limit: the fake enforces each provider's documented limit
(429 past it), the HTTP client's per-provider budgets keep the exporter under it, the
defaults sit inside the documented numbers, and the series count stays flat however often
the exporter refreshes.

Time here is virtual: one `VirtualClock` is the fake's rate-limit clock and the client's
budget clock, and a budget's wait moves it forward instead of sleeping, so a minute-long
window costs no real time and no test reads the wall clock.
"""

from __future__ import annotations

import asyncio
import math
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cost_exporter import http_client
from cost_exporter.errors import CollectorError, ConfigError
from cost_exporter.http_client import (
    DEFAULT_BUDGETS,
    SHARED_BUDGETS,
    Budget,
    HttpClient,
    RateBudget,
    RetryPolicy,
    budgets,
)
from cost_exporter.providers import REGISTRY, env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import load_config, load_exporter_settings
from tests import fake_providers
from tests.fake_providers import DOCUMENTED_LIMITS, LIMIT_GROUPS, FakeProviders, Window

NOW = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
NO_HTTP = {"manual", "focus"}  # a config or a folder; FOCUS from S3 goes through boto3


class VirtualClock:
    """Monotonic seconds that move only when a budget waits (by the time it waits)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    async def sleep(self, seconds: float) -> None:
        wake = self() + seconds
        await asyncio.sleep(0)
        with self._lock:
            self.now = max(self.now, wake)


def config_file(tmp_path: Path, fake: FakeProviders, provider: str, accounts: int) -> Path:
    data = fake.config(manual=False, providers=[provider])
    [account] = data["providers"][provider]
    data["providers"][provider] = [{**account, "account": f"a{i:02}"} for i in range(accounts)]
    import yaml

    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(data))
    return path


async def refresh(
    tmp_path: Path, fake: FakeProviders, provider: str, accounts: int, http: HttpClient
) -> dict[str, Any]:
    config = load_config(
        fake.env([provider]), config_file(tmp_path, fake, provider, accounts), env_specs()
    )
    settings = load_exporter_settings({"COST_STATE_DIR": str(tmp_path / "state")})
    try:
        refresher = Refresher(settings, config, http, clock=lambda: NOW, persist=False)
        result = await refresher.refresh()
    finally:
        await http.aclose()
    return {o.account: o.error_reason for o in result.accounts}


# --- the fake enforces the limit ------------------------------------------------------------


def test_the_fake_answers_429_past_a_providers_limit_and_again_once_the_window_moves() -> None:
    clock = VirtualClock()
    limits = {"supabase": (Window(5, 60),)}
    with FakeProviders(clock=lambda: NOW, limits=limits, monotonic=clock) as fake:
        headers = {"Authorization": f"Bearer {fake_providers.SUPABASE_TOKEN}"}
        url = (
            f"{fake.base_url('supabase')}/v1/projects/{fake_providers.SUPABASE_REF}/billing/addons"
        )

        def get() -> httpx.Response:
            return httpx.get(url, headers=headers, timeout=5)

        assert [get().status_code for _ in range(5)] == [200] * 5
        clock.now += 30
        refused = get()
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "30"  # the first request leaves the window
        assert fake.throttled == {"supabase": 1}
        # Other providers are not touched by Supabase's window.
        openai = httpx.get(f"{fake.base_url('openai')}/organization/costs", timeout=5)
        assert openai.status_code == 401  # answered (without credentials), not throttled
        clock.now += 30
        assert get().status_code == 200


def test_the_fake_counts_both_cloudflare_collectors_against_one_limit_graphql_apart() -> None:
    clock = VirtualClock()
    limits = {"cloudflare": (Window(3, 300), Window(1, 300, paths="/graphql"))}
    with FakeProviders(limits=limits, monotonic=clock) as fake:
        gateway = f"{fake.base_url('cloudflare_ai_gateway')}/graphql"
        billing = f"{fake.base_url('cloudflare')}/accounts/x/billing"
        assert httpx.post(gateway, json={}, timeout=5).status_code != 429
        assert httpx.post(gateway, json={}, timeout=5).status_code == 429  # GraphQL: 1
        assert httpx.get(billing, timeout=5).status_code != 429
        assert httpx.get(billing, timeout=5).status_code != 429
        assert httpx.get(billing, timeout=5).status_code == 429  # all Cloudflare: 3
        assert fake.throttled == {"cloudflare_ai_gateway": 1, "cloudflare": 1}


# --- the exporter stays under it --------------------------------------------------------------


async def test_accounts_of_one_provider_share_a_budget_that_keeps_them_under_the_limit(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    limits = {"supabase": (Window(6, 60),)}
    with FakeProviders(clock=lambda: NOW, limits=limits, monotonic=clock) as fake:
        http = HttpClient(
            retry=RetryPolicy(max_attempts=1),
            budgets={"supabase": Budget(concurrency=2, requests=5, per_s=60)},
            clock=clock,
            sleep=clock.sleep,
            max_budget_wait_s=600,
        )
        started = clock()
        outcome = await refresh(tmp_path, fake, "supabase", 5, http)
        sent = fake.requests_for("supabase")
    assert outcome == dict.fromkeys(outcome, None) and len(outcome) == 5  # every account ok
    assert fake.throttled == {}
    # 8 per account: add-ons, table rows, database size, disk, API counts, the function
    # list, and the stats of the fake's two functions.
    assert sent == 40
    # 40 requests at 5 a minute: the budget waited out seven full windows.
    assert clock() - started >= 7 * 60


async def test_without_the_budget_the_same_accounts_run_into_429s(tmp_path: Path) -> None:
    clock = VirtualClock()
    limits = {"supabase": (Window(6, 60),)}
    with FakeProviders(clock=lambda: NOW, limits=limits, monotonic=clock) as fake:
        http = HttpClient(retry=RetryPolicy(max_attempts=1), budgets={}, clock=clock)
        outcome = await refresh(tmp_path, fake, "supabase", 5, http)
    assert fake.throttled["supabase"] > 0
    assert "rate_limited" in outcome.values()


async def test_a_budget_spent_for_longer_than_the_wait_allowed_fails_rate_limited() -> None:
    clock = VirtualClock()
    budget = RateBudget("anthropic", Budget(2, 2, 3600), clock, clock.sleep, max_wait_s=60)
    for _ in range(2):
        async with budget.slot():
            pass
    with pytest.raises(CollectorError) as caught:
        async with budget.slot():
            pass
    assert caught.value.reason == "rate_limited"
    assert "2 requests per 3600 s" in str(caught.value)
    clock.now += 3600
    async with budget.slot():
        pass


async def test_a_budget_never_has_more_requests_in_flight_than_its_concurrency() -> None:
    clock = VirtualClock()
    budget = RateBudget("vercel", Budget(concurrency=3), clock, clock.sleep, max_wait_s=60)
    in_flight = peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with budget.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1

    await asyncio.gather(*(request() for _ in range(20)))
    assert peak == 3


def test_providers_that_call_another_providers_api_spend_its_budget() -> None:
    http = HttpClient()
    gateway, cloudflare = (
        http.for_provider("cloudflare_ai_gateway"),
        http.for_provider("cloudflare"),
    )
    assert gateway.rate_budget is cloudflare.rate_budget
    assert http.for_provider("vercel").rate_budget is not cloudflare.rate_budget
    assert http.rate_budget is None  # the unscoped client counts nothing


# --- the defaults sit inside the documented limits -------------------------------------------


@pytest.mark.parametrize("group", sorted(DOCUMENTED_LIMITS))
def test_the_default_budget_stays_inside_every_documented_window(group: str) -> None:
    budget = DEFAULT_BUDGETS[group]
    assert budget.requests is not None and budget.per_s is not None
    for window in DOCUMENTED_LIMITS[group]:
        # The most a client window lets through in any span as long as the documented one,
        # whatever the path (every Cloudflare request may be a GraphQL query).
        most = budget.requests * math.ceil(window.per_s / budget.per_s)
        assert most <= window.requests, (group, window)


def test_every_http_provider_has_a_budget_and_the_fake_groups_like_the_client() -> None:
    for name in REGISTRY:
        if name in NO_HTTP:
            continue
        assert http_client.budget_name(name) in DEFAULT_BUDGETS, name
    assert LIMIT_GROUPS == SHARED_BUDGETS


# --- configuration ----------------------------------------------------------------------------


def test_rate_limits_in_the_config_replace_a_default(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("rate_limits:\n  supabase: {requests: 30, per_seconds: 60}\n")
    config = load_config({}, path, env_specs())
    merged = budgets({k: v.model_dump(exclude_none=True) for k, v in config.rate_limits.items()})
    assert merged["supabase"] == Budget(concurrency=2, requests=30, per_s=60)
    assert merged["vercel"] == DEFAULT_BUDGETS["vercel"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rate_limits:\n  nosuch: {concurrency: 1}\n", "rate_limits.nosuch: unknown provider"),
        ("rate_limits:\n  vercel: {requests: 5}\n", "give requests and per_seconds together"),
        ("rate_limits:\n  vercel: {concurrency: 0}\n", "rate_limits.vercel.concurrency"),
    ],
)
def test_a_wrong_rate_limit_names_the_key(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=says):
        load_config({}, path, env_specs())


def test_a_provider_that_spends_anothers_budget_is_refused_with_the_key_to_use() -> None:
    with pytest.raises(ValueError, match=r"set rate_limits\.cloudflare"):
        budgets({"cloudflare_ai_gateway": {"concurrency": 1}})


# --- series stay flat -------------------------------------------------------------------------


def series_lines(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if line and not line.startswith(b"#")]


async def test_the_series_count_stays_flat_over_100_refreshes(tmp_path: Path) -> None:
    moments = [NOW + timedelta(hours=i) for i in range(100)]  # four days, one month
    step = iter(moments)
    now = NOW
    with FakeProviders(clock=lambda: now) as fake:
        path = fake.write_config(tmp_path / "config.yml")
        config = load_config(fake.env(), path, env_specs())
        settings = load_exporter_settings({"COST_STATE_DIR": str(tmp_path / "state")})
        # No request windows: 100 refreshes in a row are the test, not the budgets.
        http = HttpClient(retry=RetryPolicy(max_attempts=1), budgets={})
        refresher = Refresher(settings, config, http, clock=lambda: now, persist=False)
        counts = []
        try:
            for moment in step:
                now = moment
                result = await refresher.refresh()
                assert all(o.ok for o in result.accounts), result.summary()
                counts.append(len(series_lines(refresher.rendered.text)))
        finally:
            await http.aclose()
    assert len(counts) == 100
    assert set(counts) == {counts[0]}, counts
    assert counts[0] > 100
