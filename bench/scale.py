"""Scale: 100 accounts across the 8 HTTP providers, one refresh, against the fake APIs
enforcing each provider's documented rate limit (cost_exporter.demo.providers DOCUMENTED_LIMITS:
Supabase 120 a minute, Cloudflare 1200 per 5 minutes and GraphQL 320, Anthropic 60 an hour;
sources next to the numbers there) and answering 429 past it, with 50 ms per request.

Printed: requests per refresh (per provider and in all), wall time, the 429s (must be 0),
series per account and in total against SERIES_CAP, and the peak resident memory of the
real `cost-exporter serve` doing the same first refresh (VmHWM of its process, against a
fresh fake so the windows start empty, as they would for a new install).

The exporter runs with its default budgets (cost_exporter.http_client.DEFAULT_BUDGETS): the
accounts of one provider share one budget, so 13 Supabase projects spend one Supabase budget.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.footprint import peak_rss_mb, rss_mb, start_serve
from bench.refresh import ONE_PAGE, timed_refresh
from bench.scrape import free_port
from cost_exporter.providers import env_specs
from cost_exporter.settings import load_config, load_exporter_settings
from tests import fake_providers
from tests.fake_providers import DOCUMENTED_LIMITS, FakeProviders

LATENCY_S = 0.05
ACCOUNTS = {
    "vercel": 13,
    "supabase": 13,
    "wasabi": 12,
    "cloudflare": 13,
    "cloudflare_ai_gateway": 12,
    "openai": 13,
    "anthropic": 12,
    "openrouter": 12,
}
SERIES_CAP = 10_000
"""The stated ceiling for 100 accounts: every breakdown by project, key or metadata value is
capped at `top_n` (default 20) plus one `other` per account, so an account's series do not
grow with its number of projects or keys."""
EXPORTER = "(exporter)"
LABEL = re.compile(rb'(provider|account)="([^"]*)"')


@dataclass(frozen=True)
class Scale:
    accounts: int
    wall_s: float
    requests: dict[str, int]
    throttled: int
    failed: list[str]
    series_per_account: dict[tuple[str, str], int]
    peak_rss_mb: float
    rss_after_mb: float
    serve_refresh_s: float

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_series(self) -> int:
        return sum(self.series_per_account.values())


def config(fake: FakeProviders) -> dict[str, Any]:
    data = fake.config(manual=False)
    for provider, count in ACCOUNTS.items():
        [account] = data["providers"][provider]
        data["providers"][provider] = [
            {**account, "account": f"{provider[:6]}-{i:02}"} for i in range(count)
        ]
    return data


def series_per_account(text: bytes) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for line in text.splitlines():
        if not line or line.startswith(b"#"):
            continue
        labels = dict(LABEL.findall(line.split(b"}")[0]))
        key = (labels.get(b"provider", b"").decode(), labels.get(b"account", b"").decode())
        counts[key if key[1] else (EXPORTER, "")] += 1
    return dict(counts)


def refresh_in_process(work: Path) -> tuple[float, dict[str, int], int, list[str], bytes]:
    with FakeProviders(latency_s=LATENCY_S, limits=DOCUMENTED_LIMITS, **ONE_PAGE) as fake:
        path = work / "config.yml"
        path.write_text(yaml.safe_dump(config(fake)))
        loaded = load_config(fake.env(), path, env_specs())
        settings = load_exporter_settings({"COST_STATE_DIR": str(work / "state")})

        wall, refresher = asyncio.run(timed_refresh(settings, loaded))
        requests = {p: fake.requests_for(p) for p in fake_providers.PROVIDERS}
        throttled = fake.total_throttled
    states = refresher.snapshot.accounts.values()
    failed = [f"{s.provider}/{s.account}: {s.last_error}" for s in states if not s.up]
    return wall, requests, throttled, failed, refresher.rendered.text


def serve_footprint(work: Path) -> tuple[float, float, float]:
    """(peak RSS MB, RSS MB after, seconds to the end of the first refresh) of `serve`."""
    port = free_port()
    with FakeProviders(latency_s=LATENCY_S, limits=DOCUMENTED_LIMITS, **ONE_PAGE) as fake:
        path = work / "serve.yml"
        path.write_text(yaml.safe_dump(config(fake)))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **fake.env(),
            "COST_CONFIG_FILE": str(path),
            "COST_STATE_DIR": str(work / "serve-state"),
            "COST_EXPORTER_HOST": "127.0.0.1",
            "COST_EXPORTER_PORT": str(port),
        }
        started = time.perf_counter()
        process = start_serve(env)
        try:
            deadline = time.monotonic() + 180
            while True:
                if process.poll() is not None:
                    raise RuntimeError("cost-exporter serve exited")
                try:
                    status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                except (httpx.HTTPError, ValueError):
                    status = {}
                if status.get("status") not in (None, "starting"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the first refresh did not end within 180 s")
                time.sleep(0.1)
            refreshed = time.perf_counter() - started
            time.sleep(0.5)
            peak = peak_rss_mb(process.pid)
            after = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return peak, after, refreshed


def run(work: Path) -> Scale:
    work.mkdir(parents=True, exist_ok=True)
    wall, requests, throttled, failed, text = refresh_in_process(work)
    peak, after, serve_s = serve_footprint(work)
    return Scale(
        accounts=sum(ACCOUNTS.values()),
        wall_s=wall,
        requests=requests,
        throttled=throttled,
        failed=failed,
        series_per_account=series_per_account(text),
        peak_rss_mb=peak,
        rss_after_mb=after,
        serve_refresh_s=serve_s,
    )


def report(s: Scale) -> list[str]:
    per_provider: dict[str, list[int]] = {}
    for (provider, _account), n in s.series_per_account.items():
        if provider != EXPORTER:
            per_provider.setdefault(provider, []).append(n)
    out = [
        f"## Scale ({s.accounts} accounts, documented rate limits enforced, "
        f"{LATENCY_S * 1000:.0f} ms per request)",
        "",
        "| provider | accounts | requests | per account | series per account | limit enforced |",
        "|---|---|---|---|---|---|",
    ]
    for provider, count in ACCOUNTS.items():
        n = s.requests.get(provider, 0)
        group = {"cloudflare_ai_gateway": "cloudflare"}.get(provider, provider)
        windows = DOCUMENTED_LIMITS.get(group, ())
        limit = (
            ", ".join(
                f"{w.requests}/{w.per_s:g} s" + (f" ({w.paths})" if w.paths else "")
                for w in windows
            )
            or "none documented"
        )
        series = per_provider.get(provider, [0])
        shown = f"{min(series)}" if min(series) == max(series) else f"{min(series)}-{max(series)}"
        out.append(f"| {provider} | {count} | {n} | {n / count:.1f} | {shown} | {limit} |")
    exporter_series = s.series_per_account.get((EXPORTER, ""), 0)
    out += [
        "",
        f"- requests per refresh: {s.total_requests}; wall time {s.wall_s:.2f} s; "
        f"429 answers: {s.throttled} (target 0): {'met' if s.throttled == 0 else '**missed**'}",
        f"- series: {s.total_series} in total ({exporter_series} without an account), "
        f"{(s.total_series - exporter_series) / s.accounts:.0f} per account on average "
        f"(target < {SERIES_CAP:,} for 100 accounts): "
        f"{'met' if s.total_series < SERIES_CAP else '**missed**'}",
        f"- `cost-exporter serve`, first refresh of the {s.accounts} accounts: "
        f"{s.serve_refresh_s:.2f} s from start; peak RSS {s.peak_rss_mb:.1f} MB, "
        f"{s.rss_after_mb:.1f} MB after",
    ]
    if s.failed:
        out.append(f"- FAILED: {'; '.join(s.failed[:5])}")
    return [*out, ""]
