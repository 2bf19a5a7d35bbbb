"""Footprint: start-up time to the first /metrics 200 with a restored ~5,000-series
snapshot, resident memory after start-up and after a refresh (the real
`cost-exporter serve` in a subprocess, 24 accounts against the local fake APIs).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.data import Dataset
from bench.scrape import exporter_env, free_port, wait_for


@dataclass(frozen=True)
class Footprint:
    startup_s: float
    rss_started_mb: float
    rss_refreshed_mb: float
    refresh_s: float
    refresh_ok: bool
    boto3_loaded: bool


def rss_mb(pid: int) -> float:
    return status_mb(pid, "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """The most resident memory the process has had so far (the kernel's high-water mark)."""
    return status_mb(pid, "VmHWM")


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def start_serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`cost-exporter serve` from this checkout, its output discarded."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.Popen(
        [sys.executable, "-m", "cost_exporter", "serve"],
        env={**env, "PYTHONPATH": str(root / "exporter")},
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def boto3_imported() -> bool:
    """Whether importing the exporter (CLI, app, every provider) pulls in boto3."""
    code = (
        "import sys, cost_exporter.cli, cost_exporter.app, cost_exporter.providers;"
        "print('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def run(data: Dataset) -> Footprint:
    port = free_port()
    process = start_serve(exporter_env(data, port))
    try:
        startup = wait_for(f"http://127.0.0.1:{port}/metrics", process)
        time.sleep(1.0)  # let start-up garbage settle
        after_start = rss_mb(process.pid)
        began = time.perf_counter()
        response = httpx.post(f"http://127.0.0.1:{port}/refresh", timeout=120)
        refresh_s = time.perf_counter() - began
        accounts = response.json().get("accounts", [])
        ok = response.status_code == 200 and all(a["ok"] for a in accounts)
        time.sleep(0.5)
        after_refresh = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
    return Footprint(startup, after_start, after_refresh, refresh_s, ok, boto3_imported())
