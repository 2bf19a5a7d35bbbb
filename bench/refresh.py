"""Refresh: one collection of 8 providers behind a fake with 200 ms per request.

The 7 HTTP providers talk to cost_exporter.demo.providers (one local server, 200 ms of
latency on every request, one UTC day per bucket at the page sizes the collectors
ask for); FOCUS reads a local folder. Printed: wall time, requests per provider,
and the wall time against the sum of every provider's latency (what a collector
running the providers one after another would wait) and against the slowest one.

Page sizes: the fake's Cloudflare (4 records) and OpenRouter /keys (3 keys) pages
are test devices that force paging; here they are set to one page for a month
(Cloudflare documents no paging for billable-usage; OpenRouter pages keys by offset
with a server-chosen size), so the counts are those a real account of this size makes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from cost_exporter.http_client import HttpClient
from cost_exporter.providers import env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import (
    Config,
    ExporterSettings,
    load_config,
    load_exporter_settings,
)
from tests import fake_providers
from tests.fake_providers import FakeProviders

LATENCY_S = 0.2
# Cloudflare's charges and OpenRouter's keys on one page each: the tests keep the fake's
# small pages to exercise paging; a benchmark measures the collection, not the page count.
ONE_PAGE = {"cloudflare_page_size": 1000, "openrouter_keys_page": 100}


@dataclass(frozen=True)
class Refresh:
    wall_s: float
    requests: dict[str, int]
    durations: dict[str, float]
    failed: list[str]

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def sequential_s(self) -> float:
        return self.total_requests * LATENCY_S

    @property
    def slowest(self) -> tuple[str, float]:
        name = max(self.requests, key=lambda p: self.requests[p])
        return name, self.requests[name] * LATENCY_S


async def timed_refresh(settings: ExporterSettings, config: Config) -> tuple[float, Refresher]:
    """One refresh of every account through the shared client with its default budgets, and
    the seconds it took."""
    http = HttpClient(timeout_s=settings.http_timeout_s)
    try:
        refresher = Refresher(settings, config, http, persist=False)
        started = time.perf_counter()
        await refresher.refresh()
        return time.perf_counter() - started, refresher
    finally:
        await http.aclose()


def run(work: Path) -> Refresh:
    work.mkdir(parents=True, exist_ok=True)
    with FakeProviders(latency_s=LATENCY_S, **ONE_PAGE) as fake:
        data = fake.config(manual=False)
        focus_dir = work / "focus"
        focus_dir.mkdir(exist_ok=True)
        month = time.strftime("%Y-%m", time.gmtime())
        (focus_dir / "ovh.csv").write_text(
            "BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,ProviderName\n"
            f"10.50,EUR,{month}-01T00:00:00Z,Public Cloud Instances,OVHcloud\n"
        )
        data["providers"]["focus"] = [{"path": str(focus_dir)}]
        data["fx_rates"] = {**data["fx_rates"], "EUR": "1.08"}
        config_file = work / "config.yml"
        config_file.write_text(yaml.safe_dump(data))
        env = fake.env()
        config = load_config(env, config_file, env_specs())
        settings = load_exporter_settings({"COST_STATE_DIR": str(work / "state")})

        fake.reset_counts()
        wall, refresher = asyncio.run(timed_refresh(settings, config))
        requests = {p: fake.requests_for(p) for p in fake_providers.PROVIDERS}
        states = refresher.snapshot.accounts.values()
        durations = {s.provider: s.duration_s or 0.0 for s in states}
        failed = [f"{s.provider}: {s.last_error}" for s in states if not s.up]
    return Refresh(wall, requests, durations, failed)
