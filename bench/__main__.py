"""`python -m bench [scrape] [refresh] [footprint] [scale] [--seconds N]`: run and print the
figures."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import data as dataset
from bench import footprint, refresh, scale, scrape

TARGETS = {
    "static": "exporter within 1.5x of the static file (requests/s)",
    "stock": "exporter at least 3x stock generate_latest (requests/s)",
    "p99": "p99 under 10 ms at 100 requests/s on one core",
    "refresh": "refresh wall time close to the slowest provider, not the sum",
    "rss": "under 80 MB resident",
    "startup": "under 2 s to the first /metrics 200",
}


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk = shutil.which("wrk")
    version = (
        subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
        if wrk
        else ""
    )
    return (
        f"- machine: {os.cpu_count()} CPUs (`nproc`), {cpu}, {platform.system()} {platform.release()}\n"
        f"- Python {platform.python_version()}; load generator: {version.strip() or 'httpx (wrk not installed)'}\n"
        f"- command: `.venv/bin/python -m bench` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"
    )


def progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("parts", nargs="*", default=["scrape", "refresh", "footprint", "scale"])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load run")
    args = parser.parse_args(argv)
    lines = ["## Machine", "", machine(), ""]
    with tempfile.TemporaryDirectory(prefix="cost-bench-") as tmp:
        work = Path(tmp)
        from tests.fake_providers import FakeProviders

        with FakeProviders() as fake:
            urls = {p: fake.base_url(p) for p in dataset.HTTP_PROVIDERS}
            data = dataset.build(work / "data", urls)
            published = data.series
            lines += [
                f"Snapshot: {len(data.config.accounts)} accounts, {published} series on /metrics.",
                "",
            ]
            print("\n".join(lines), flush=True)
            if "scrape" in args.parts:
                lines += scrape_report(scrape.run(data, work, args.seconds))
                print("\n".join(lines[-14:]), flush=True)
            if "footprint" in args.parts:
                lines += footprint_report(footprint.run(data))
        if "refresh" in args.parts:
            lines += refresh_report(refresh.run(work / "refresh"))
        if "scale" in args.parts:
            lines += scale.report(scale.run(work / "scale"))
    print("\n".join(lines))
    return 0


def scrape_report(results: list[scrape.Scrape]) -> list[str]:
    by = {r.kind: r for r in results}
    out = [
        "## Scrape (server pinned to CPU 0, load on CPU 1)",
        "",
        "| server | body | req/s, median of 3 (runs) | p50 | p99 | p50 @100 rps | p99 @100 rps |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        steady = (
            f"{r.steady.p50_ms:.2f} ms | {r.steady.p99_ms:.2f} ms"
            if r.steady
            else "saturated | saturated"
        )
        out.append(
            f"| {r.kind} | {r.body_bytes / 1024:.0f} KiB | {r.burst.requests_per_s:,.0f} "
            f"({', '.join(f'{x:,.0f}' for x in r.runs)}) | {r.burst.p50_ms:.2f} ms | "
            f"{r.burst.p99_ms:.2f} ms | {steady} |"
        )
    exporter, stock, static = by["exporter"], by["stock"], by["static"]
    as_prometheus = by.get(scrape.AS_PROMETHEUS)
    p99 = exporter.steady.p99_ms if exporter.steady else float("inf")
    out.append("")
    if exporter.burst.tool == "wrk":
        vs_static = static.burst.requests_per_s / exporter.burst.requests_per_s
        vs_stock = exporter.burst.requests_per_s / stock.burst.requests_per_s
        out += [
            f"- static / exporter: {vs_static:.2f}x (target <= 1.5x): {verdict(vs_static <= 1.5)}",
            f"- exporter / stock: {vs_stock:.1f}x (target >= 3x): {verdict(vs_stock >= 3)}",
        ]
    else:
        # A Python load generator saturates before a static file server does: the ratios
        # would measure the generator, not the servers.
        out.append("- ratios not printed: wrk is not installed (apt-get install wrk)")
    out += [
        f"- exporter p99 at 100 rps: {p99:.2f} ms (target < 10 ms): {verdict(p99 < 10)}",
        f"- load generator: {exporter.burst.tool} -t1 -c8; fixed rate: open loop, httpx",
    ]
    if as_prometheus:
        out.append(
            f"- as Prometheus asks (OpenMetrics, gzip: {as_prometheus.body_bytes / 1024:.0f} KiB "
            f"on the wire): {as_prometheus.burst.requests_per_s:,.0f} req/s"
        )
    out.append("")
    return out


def refresh_report(r: refresh.Refresh) -> list[str]:
    slowest, slowest_s = r.slowest
    out = [
        f"## Refresh (8 providers, {refresh.LATENCY_S * 1000:.0f} ms per request)",
        "",
        "| provider | requests | sequential latency | collection |",
        "|---|---|---|---|",
    ]
    for provider, n in r.requests.items():
        out.append(
            f"| {provider} | {n} | {n * refresh.LATENCY_S:.1f} s | {r.durations.get(provider, 0):.2f} s |"
        )
    out.append(f"| focus (local folder) | 0 | 0 | {r.durations.get('focus', 0):.2f} s |")
    out += [
        "",
        f"- wall time {r.wall_s:.2f} s for {r.total_requests} requests; sum of latencies "
        f"{r.sequential_s:.1f} s (ratio {r.wall_s / r.sequential_s:.2f}); slowest provider "
        f"{slowest} {slowest_s:.1f} s (wall / slowest {r.wall_s / slowest_s:.2f}): "
        f"{verdict(r.wall_s <= 1.25 * slowest_s + 0.2)}",
    ]
    if r.failed:
        out.append(f"- FAILED: {r.failed}")
    return [*out, ""]


def footprint_report(f: footprint.Footprint) -> list[str]:
    return [
        "## Footprint (`cost-exporter serve`, 24 accounts, restored snapshot)",
        "",
        f"- start-up to the first /metrics 200: {f.startup_s:.2f} s (target < 2 s): "
        f"{verdict(f.startup_s < 2)}",
        f"- RSS after start-up: {f.rss_started_mb:.1f} MB; after a refresh of the 24 accounts "
        f"({f.refresh_s:.2f} s, {'all ok' if f.refresh_ok else 'SOME FAILED'}): "
        f"{f.rss_refreshed_mb:.1f} MB (target < 80 MB): "
        f"{verdict(max(f.rss_started_mb, f.rss_refreshed_mb) < 80)}",
        f"- boto3 imported without an S3 provider: {'yes' if f.boto3_loaded else 'no'}",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
