"""Shared test helpers: run a provider exactly as the exporter would."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cost_exporter import health
from cost_exporter.catalog import DAILY_SPEND, Family
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.refresher import usage_limit_keys
from cost_exporter.samples import Sample
from cost_exporter.settings import Config, load_config

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def fixture_text(*parts: str) -> str:
    return FIXTURES.joinpath(*parts).read_text(encoding="utf-8")


def fixture_json(*parts: str) -> Any:
    return json.loads(fixture_text(*parts))


def fast_http() -> HttpClient:
    """The real client with retries that do not sleep."""
    return HttpClient(retry=RetryPolicy(max_attempts=3, initial_wait_s=0, max_wait_s=0))


def config_for(
    spec: ProviderSpec[Any],
    accounts: list[dict[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    fx_rates: Mapping[str, str] | None = None,
    tmp_path: Path | None = None,
    budgets: list[dict[str, Any]] | None = None,
) -> Config:
    """Load a config holding only `spec`, through the real loader."""
    config_file = None
    if accounts is not None or budgets is not None:
        assert tmp_path is not None, "pass tmp_path when giving accounts or budgets"
        config_file = tmp_path / "config.yml"
        data: dict[str, Any] = {"fx_rates": dict(fx_rates or {}), "budgets": budgets or []}
        if accounts is not None:
            data["providers"] = {spec.name: accounts}
        config_file.write_text(json.dumps(data))
    return load_config(env or {}, config_file, {spec.name: spec.env_spec()})


async def run_provider(
    spec: ProviderSpec[Any], config: Config, now: datetime = NOW, timeout_s: float = 10
) -> list[health.Outcome]:
    """Collect every account of `config` through the health wrapper."""
    http = fast_http()
    try:
        outcomes = []
        for entry in config.accounts:
            limits = usage_limit_keys(config, *entry.key)
            ctx = Context(http=http, now=now, usage_limits=limits)
            outcomes.append(await health.run(spec, entry, ctx, config, timeout_s))
        return outcomes
    finally:
        await http.aclose()


def values(samples: Iterable[Sample], family: Family) -> dict[tuple[tuple[str, str], ...], Decimal]:
    """{labels: value} of one family, for readable assertions."""
    return {s.labels: s.value for s in samples if s.family is family}


def total(samples: Iterable[Sample], family: Family, **match: str) -> Decimal:
    return sum(
        (
            s.value
            for s in samples
            if s.family is family and all(dict(s.labels).get(k) == v for k, v in match.items())
        ),
        Decimal(0),
    )


async def run_history(
    spec: ProviderSpec[Any], config: Config, start: datetime, end: datetime, now: datetime = NOW
) -> list[Sample]:
    """The provider's history over [start, end) for the one account of `config`."""
    assert spec.history is not None, f"{spec.name} has no history"
    [entry] = config.accounts
    http = fast_http()
    try:
        return await spec.history(entry.config, Context(http=http, now=now), start, end)
    finally:
        await http.aclose()


def by_day(samples: Iterable[Sample], family: Family | None = None) -> dict[str, Decimal]:
    """{day: amount} of the daily spend (or another family with a `day` label)."""
    found: dict[str, Decimal] = {}
    for s in samples:
        if s.family is (family or DAILY_SPEND):
            day = s.label("day") or ""
            found[day] = found.get(day, Decimal(0)) + s.value
    return found
