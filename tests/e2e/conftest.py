"""Fixtures of the end-to-end alerting tests: see harness.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import binaries
from tests.e2e.harness import Binaries, Process, Stack, free_port, wait_until

StartStack = Callable[..., Stack]


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[StartStack]:
    """Start the exporter, Prometheus and Alertmanager; every one is stopped after the test.

    `start_stack(config, env=None, remote_write=None)`: `config` is the exporter's YAML
    config as a dict, `env` extra environment for the exporter (e.g. a fake provider's base
    URL), `remote_write` a `remote_write:` list for Prometheus' config.
    Skips without the binaries (fails when CI is set).
    """
    found = Binaries(
        prometheus=binaries.require(binaries.PROMETHEUS),
        alertmanager=binaries.require(binaries.ALERTMANAGER),
    )
    stacks: list[Stack] = []

    def start(
        config: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        remote_write: list[dict[str, Any]] | None = None,
        exporter_argv: Sequence[str] | None = None,
    ) -> Stack:
        stack = Stack.start(
            tmp_path / f"stack{len(stacks)}", found, config, env, remote_write, exporter_argv
        )
        stacks.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in stacks:
            stack.stop()


@pytest.fixture
def prometheus_on(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a bare `prometheus` (no scrapes) on a data directory, with `flags` added, e.g.
    `--web.enable-remote-write-receiver`; every one started is stopped after the test."""
    started: list[Process] = []

    def start(data: Path, *flags: str) -> str:
        config = tmp_path / f"prometheus-{len(started)}.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        port = free_port()
        argv = [
            binaries.require(binaries.PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=400d",
            f"--web.listen-address=127.0.0.1:{port}",
            *flags,
        ]
        env = {"PATH": os.environ.get("PATH", "")}
        process = Process("prometheus", argv, env, tmp_path / f"prometheus-{len(started)}.log")
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: process.running and httpx.get(f"{url}/-/ready", timeout=2).status_code == 200,
            "prometheus to be ready",
            timeout=60,
            diagnostics=process.tail,
        )
        return url

    try:
        yield start
    finally:
        for process in started:
            process.stop()
