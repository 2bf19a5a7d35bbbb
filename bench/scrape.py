"""Scrape: /metrics of the exporter vs prometheus_client's generate_latest vs a static file.

Each server runs alone, pinned to CPU 0 (`taskset`), serving the same ~5,000 series;
the load generator runs on CPU 1. Two loads: as fast as 8 keep-alive connections go
(requests/s, p50, p99), then a fixed 100 requests/s open loop (p99), which is what
a few Prometheus servers and dashboards would ever ask of one exporter.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import load
from bench.data import Dataset

SERVER_CPU, LOAD_CPU = 0, 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(command: list[str], cpu: int | None) -> list[str]:
    if cpu is not None and shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu), *command]
    return command


def wait_for(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> float:
    """Seconds until `url` answers 200 (polled every 5 ms)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.005)
    raise TimeoutError(url)


def exporter_env(data: Dataset, port: int, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        **data.env,
        "COST_CONFIG_FILE": str(data.config_file),
        "COST_STATE_DIR": str(data.state_dir),
        "COST_EXPORTER_HOST": "127.0.0.1",
        "COST_EXPORTER_PORT": str(port),
        "COST_LOG_LEVEL": "warning",
        **extra,
    }


@contextlib.contextmanager
def server(kind: str, data: Dataset, static_file: Path, cpu: int | None) -> Iterator[str]:
    port = free_port()
    env = exporter_env(data, port)
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = f"{root}:{root / 'exporter'}"
    if kind == "exporter":
        command = [sys.executable, "-m", "cost_exporter", "serve"]
    elif kind == "stock":
        command = [sys.executable, "-m", "bench.serve", "stock", str(port)]
        command += [str(data.state_dir), str(data.config_file)]
    else:
        command = [sys.executable, "-m", "bench.serve", "static", str(port), str(static_file)]
    process = subprocess.Popen(pinned(command, cpu), env=env, cwd=root)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Scrape:
    kind: str
    body_bytes: int
    burst: load.Load
    """The median run (by requests/s) of `ROUNDS` closed-loop runs."""
    steady: load.Load | None
    """The fixed 100 requests/s run; None when the server cannot carry 100 requests/s."""
    runs: tuple[float, ...]


ROUNDS = 3
AS_PROMETHEUS = "exporter, as Prometheus asks"
KINDS = ("exporter", "stock", "static", AS_PROMETHEUS)
"""The last: the same server asked as Prometheus asks (OpenMetrics, gzip)."""


def run(data: Dataset, work: Path, seconds: int) -> list[Scrape]:
    """All servers up at once (idle ones cost nothing), measured in alternation so that
    a noisy neighbour or a frequency change hits them alike."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {LOAD_CPU})
    static_file = work / "metrics.txt"
    with server("exporter", data, static_file, SERVER_CPU) as url:
        static_file.write_bytes(httpx.get(url).content)
    with contextlib.ExitStack() as stack:
        urls = {
            kind: stack.enter_context(server(kind, data, static_file, SERVER_CPU))
            for kind in KINDS[:3]
        }
        urls[KINDS[3]] = urls["exporter"]
        headers = {kind: load.PROMETHEUS if kind == AS_PROMETHEUS else load.PLAIN for kind in KINDS}
        bodies = {
            kind: httpx.get(url, headers=headers[kind]).num_bytes_downloaded
            for kind, url in urls.items()
        }
        for kind, url in urls.items():  # warm-up
            load.closed_loop(url, seconds=2, connections=8, cpu=LOAD_CPU, headers=headers[kind])
        runs: dict[str, list[load.Load]] = {kind: [] for kind in KINDS}
        for _ in range(ROUNDS):
            for kind, url in urls.items():
                runs[kind].append(
                    load.closed_loop(
                        url, seconds=seconds, connections=8, cpu=LOAD_CPU, headers=headers[kind]
                    )
                )
        results = []
        for kind, url in urls.items():
            ordered = sorted(runs[kind], key=lambda r: r.requests_per_s)
            median = ordered[len(ordered) // 2]
            steady = None
            if median.requests_per_s > 150:
                steady = load.fixed_rate(url, rate=100, seconds=seconds, headers=headers[kind])
            rates = tuple(r.requests_per_s for r in runs[kind])
            results.append(Scrape(kind, bodies[kind], median, steady, rates))
    return results
