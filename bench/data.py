"""The realistic data every benchmark shares: 8 providers x 3 accounts, about 5,000 series.

`build(root)` writes a config file, the environment it needs, a FOCUS folder and a
snapshot file whose accounts were all collected a minute ago (so a restarted exporter
has nothing due and serves at once). The AI providers carry full breakdowns: tokens
per model and type, spend per model, project and API key.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from cost_exporter import catalog
from cost_exporter import snapshot as snapshots
from cost_exporter.providers import env_specs
from cost_exporter.samples import Money, Sample
from cost_exporter.settings import Config, load_config
from cost_exporter.snapshot import AccountState, Snapshot

ACCOUNTS = ("prod", "staging", "research")
HTTP_PROVIDERS = ("vercel", "supabase", "wasabi", "cloudflare", "openai", "anthropic", "openrouter")
PROVIDERS = (*HTTP_PROVIDERS, "focus")
AI = frozenset({"openai", "anthropic", "openrouter"})
MODELS = 30
SERVICES = 20
PROJECTS = 30
KEYS = 30
BUCKETS = 30
FOCUS_CSV = (
    "BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,ProviderName\n"
    "10.50,EUR,{month}-02T00:00:00Z,Public Cloud Instances,OVHcloud\n"
)


@dataclass(frozen=True)
class Dataset:
    config_file: Path
    state_dir: Path
    env: dict[str, str]
    config: Config
    snapshot: Snapshot

    @property
    def series(self) -> int:
        from cost_exporter import figures

        return sum(len(v) for v in figures.derive(self.snapshot, self.config, _now()).values())


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def env_for(base_urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """Dummy credentials (the same values tests/fake_providers.py checks)."""
    from tests import fake_providers as fake

    return {
        "VERCEL_API_TOKEN": fake.VERCEL_TOKEN,
        "VERCEL_TEAM_ID": fake.VERCEL_TEAM_ID,
        "SUPABASE_ACCESS_TOKEN": fake.SUPABASE_TOKEN,
        "SUPABASE_PROJECT_REF": fake.SUPABASE_REF,
        "SUPABASE_PLAN": fake.SUPABASE_PLAN,
        "WASABI_ACCESS_KEY": fake.WASABI_ACCESS_KEY,
        "WASABI_SECRET_KEY": fake.WASABI_SECRET_KEY,
        "CLOUDFLARE_API_TOKEN": fake.CLOUDFLARE_TOKEN,
        "CLOUDFLARE_ACCOUNT_ID": fake.CLOUDFLARE_ACCOUNT_ID,
        "OPENAI_ADMIN_KEY": fake.OPENAI_ADMIN_KEY,
        "ANTHROPIC_ADMIN_KEY": fake.ANTHROPIC_ADMIN_KEY,
        "OPENROUTER_API_KEY": fake.OPENROUTER_API_KEY,
    }


def config_data(base_urls: Mapping[str, str], focus_dir: Path) -> dict[str, Any]:
    providers: dict[str, list[dict[str, Any]]] = {}
    for provider in PROVIDERS:
        accounts = []
        for account in ACCOUNTS:
            entry: dict[str, Any] = {"account": account}
            if provider == "focus":
                entry["path"] = str(focus_dir)
            else:
                entry["base_url"] = base_urls[provider]
            if provider == "wasabi":
                entry["inventory"] = False  # boto3 only when an S3 inventory is wanted
            accounts.append(entry)
        providers[provider] = accounts
    budgets = [
        {"provider": p, "account": a, "monthly": 100, "usage_limits": {"metric_0": 1000}}
        for p in HTTP_PROVIDERS
        for a in ACCOUNTS
    ]
    return {
        "reporting_currency": "USD",
        "fx_rates": {"EUR": "1.08"},
        "budgets": budgets,
        "providers": providers,
    }


def _money(rng: random.Random) -> Money:
    return Money(Decimal(rng.randint(1, 500_000)) / 100, "USD")


def samples_for(provider: str, rng: random.Random, collected: float) -> list[Sample]:
    out: list[Sample] = []
    label = "ovhcloud" if provider == "focus" else None
    extra = {"provider": label} if label else {}
    for family in (catalog.MONTH_TO_DATE, catalog.PREVIOUS_MONTH):
        for i in range(SERVICES):
            out.append(
                Sample.of(
                    family,
                    _money(rng),
                    service_name=f"Service {i}",
                    source="api",
                    charge_frequency=catalog.USAGE_BASED,
                    **extra,
                )
            )
    if provider == "focus":
        return out
    for i in range(10):
        out.append(Sample.of(catalog.USAGE, Decimal(rng.randint(0, 10**9)), metric=f"metric_{i}"))
    if provider == "vercel":
        for i in range(PROJECTS):
            out.append(
                Sample.of(catalog.PROJECT_MONTH_TO_DATE, _money(rng), project=f"project-{i}")
            )
    if provider in ("wasabi", "cloudflare"):
        for b in range(BUCKETS):
            for m in ("storage_bytes", "api_calls", "upload_bytes", "download_bytes"):
                value = Decimal(rng.randint(0, 10**12))
                out.append(Sample.of(catalog.BUCKET_USAGE, value, bucket=f"bucket-{b}", metric=m))
    if provider == "openrouter":
        out.append(Sample.of(catalog.CREDIT_BALANCE, _money(rng)))
    if provider in AI:
        for m in range(MODELS):
            model = f"model-{m}-2026-01-01"
            for token_type in ("input", "cached_input", "cache_write", "output"):
                count = Decimal(rng.randint(0, 10**9))
                out.append(Sample.of(catalog.AI_TOKENS, count, model=model, token_type=token_type))
            out.append(Sample.of(catalog.AI_REQUESTS, Decimal(rng.randint(0, 10**6)), model=model))
            out.append(Sample.of(catalog.AI_SPEND_BY_MODEL, _money(rng), model=model, source="api"))
            out.append(Sample.of(catalog.AI_CACHE_SAVINGS, _money(rng), model=model))
        for p in range(PROJECTS):
            out.append(Sample.of(catalog.AI_SPEND_BY_PROJECT, _money(rng), project=f"proj_{p:04d}"))
        for k in range(KEYS):
            out.append(
                Sample.of(
                    catalog.AI_SPEND_BY_API_KEY, _money(rng), api_key=f"key-{k}", source="api"
                )
            )
    daily = getattr(catalog, "DAILY_SPEND", None)
    if daily is not None:  # two months of daily history, as the collectors keep it
        from datetime import UTC, datetime, timedelta

        first = datetime.fromtimestamp(collected, UTC).date().replace(day=1) - timedelta(days=31)
        for d in range(50):
            day = (first + timedelta(days=d)).isoformat()
            out.append(Sample.of(daily, _money(rng), day=day, charge_frequency=catalog.USAGE_BASED))
    return out


def build(root: Path, base_urls: Mapping[str, str], seed: int = 7) -> Dataset:
    """Config, environment, FOCUS folder and a fresh ~5,000-series snapshot under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    focus_dir = root / "focus"
    focus_dir.mkdir(exist_ok=True)
    month = time.strftime("%Y-%m", time.gmtime())
    (focus_dir / "ovh.csv").write_text(FOCUS_CSV.format(month=month))
    config_file = root / "config.yml"
    config_file.write_text(yaml.safe_dump(config_data(base_urls, focus_dir), sort_keys=False))
    env = env_for()
    config = load_config(env, config_file, env_specs())
    rng = random.Random(seed)
    collected = time.time() - 60
    states = {}
    for entry in config.accounts:
        samples = tuple(samples_for(entry.provider, rng, collected))
        states[entry.key] = AccountState(
            entry.provider,
            entry.config.account,
            samples=samples,
            up=True,
            last_success=collected,
            last_attempt=collected,
            duration_s=1.5,
        )
    snapshot = Snapshot(states)
    state_dir = root / "state"
    snapshots.save(snapshot, state_dir / "snapshot.json")
    return Dataset(config_file, state_dir, env, config, snapshot)
