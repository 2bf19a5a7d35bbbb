"""Load generators: `wrk` when installed (Debian package `wrk`), else an httpx one; and an
open-loop generator at a fixed rate for tail latency (what a scraping Prometheus does).

Every target is on 127.0.0.1; every run is bounded in time.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

PLAIN = {"Accept-Encoding": "identity"}
# What Prometheus 2.42 sends with every scrape: OpenMetrics first, gzip.
PROMETHEUS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


@dataclass(frozen=True)
class Load:
    tool: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, *, seconds: int, connections: int, cpu: int | None, headers: Mapping[str, str]
) -> Load:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])  # type: ignore[index]
    found = re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    latency = {p: _ms(v, u) for p, v, u in found}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    return Load("wrk", rps, latency["50"], latency["99"], errors)


async def _closed_loop(
    url: str, seconds: float, connections: int, headers: Mapping[str, str]
) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Load(
        "httpx",
        len(latencies) / elapsed,
        1000 * latencies[len(latencies) // 2],
        1000 * latencies[int(len(latencies) * 0.99)],
        errors,
    )


def closed_loop(
    url: str, *, seconds: int, connections: int, cpu: int | None, headers: Mapping[str, str]
) -> Load:
    """As many requests as `connections` keep-alive connections can carry."""
    if shutil.which("wrk"):
        return wrk(url, seconds=seconds, connections=connections, cpu=cpu, headers=headers)
    return asyncio.run(_closed_loop(url, seconds, connections, headers))


async def _fixed_rate(url: str, rate: float, seconds: float, headers: Mapping[str, str]) -> Load:
    """Open loop: request i is due at i/rate; its latency counts from when it was due, so a
    slow answer that delays the next ones shows up (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        await client.get(url)  # warm the connection
        origin = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            nonlocal errors
            due = origin + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            response = await client.get(url)
            latencies.append(time.perf_counter() - due)
            errors += response.status_code != 200

        await asyncio.gather(*(one(i) for i in range(total)))
    latencies.sort()
    return Load(
        "open loop (httpx)",
        rate,
        1000 * latencies[len(latencies) // 2],
        1000 * latencies[int(len(latencies) * 0.99)],
        errors,
    )


def fixed_rate(url: str, *, rate: float, seconds: int, headers: Mapping[str, str]) -> Load:
    return asyncio.run(_fixed_rate(url, rate, seconds, headers))
