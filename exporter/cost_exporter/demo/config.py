"""The demo's config: every provider of the registry at once, against the fake APIs.

What a first run should show is everything the exporter can: each HTTP provider (pointed at
`providers.FakeProviders`), the example's fixed bills, a FOCUS file, attribution to apps,
budgets with one close to its cap, a daily cap, usage limits (Vercel invocations, Supabase
rows). Credentials are the fake's own dummy values and go into the exporter's environment
only (`environment`); this file holds none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from cost_exporter.demo.providers import FakeProviders

# The fixed bills of exporter/config.example.yml, with the same provider, account and
# service names: a Prometheus that scrapes the example exporter and the demo sees the same
# series twice, and the dashboard's replica-safe queries (max by provider/account/service)
# count them once. Only the example's "Supabase Pro plan" bill is left out: the demo's
# Supabase collector reports the plan fee itself (SUPABASE_PLAN=pro), and both would count.
# tests/test_demo.py compares this list with the example file.
MANUAL_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {
        "account": "default",
        "bills": [
            {
                "name": "IONOS VPS",
                "provider": "ionos",
                "service_name": "VPS",
                "amount": 6,
                "currency": "EUR",
            },
            {
                "name": "Hostinger web hosting",
                "provider": "hostinger",
                "service_name": "Web hosting",
                "amount": 5,
                "currency": "EUR",
            },
            {
                "name": "OVH dedicated server",
                "provider": "ovh",
                "service_name": "Dedicated server",
                "amount": 250,
                "currency": "EUR",
            },
            {
                "name": "Claude Max subscription",
                "provider": "anthropic",
                "service_name": "Claude Max",
                "amount": 185,
                "currency": "EUR",
            },
        ],
        "one_off": [],
    },
)

# Caps chosen against the fake's month-to-date (Vercel 26.50, Anthropic 56.00 + the Claude
# Max bill, OVH 270.00 from its bill): Vercel's sits at 88 % of its cap, above the warning
# ratio (0.8) and below the cap, so the status page shows what a warning looks like; the
# others stay well inside theirs.
BUDGETS: tuple[dict[str, Any], ...] = (
    {
        "provider": "vercel",
        "monthly": 30,
        "usage_limits": {
            "function_invocations": 2_000_000,
            "fast_data_transfer_bytes": 100_000_000_000,
        },
    },
    {"provider": "anthropic", "monthly": 400, "daily": 25},
    {"provider": "openai", "monthly": 50, "daily": 5},
    {"provider": "ovh", "monthly": 400},
    {
        "provider": "supabase",
        "monthly": 60,
        "usage_limits": {"database_rows": 5_000_000, "database_rows:public.events": 2_000_000},
    },
)

ATTRIBUTION: dict[str, Any] = {
    "rules": [
        {"match": {"provider": "vercel", "project": "web"}, "app": "shop", "team": "web"},
        {"match": {"provider": "vercel", "project": "api"}, "app": "api", "team": "platform"},
        {"match": {"provider": "cloudflare", "zone": "shop.example.com"}, "app": "shop"},
        {"match": {"provider": "cloudflare", "zone": "blog.example.com"}, "app": "blog"},
        {"match": {"provider": "openrouter", "api_key": "prod-*"}, "app": "shop", "team": "web"},
        {"match": {"provider": "anthropic", "service_name": "Claude Max"}, "app": "assistant"},
        {"match": {"provider": "wasabi", "bucket": "backups"}, "app": "backups"},
        {
            "match": {"provider": "ovh"},
            "split": [
                {"app": "shop", "team": "web", "weight": 0.5},
                {"app": "blog", "team": "content", "weight": 0.3},
                {"app": "crm", "team": "sales", "weight": 0.2},
            ],
        },
        {"match": {"provider": "focus"}, "app": "crm", "team": "sales"},
    ],
    "app_budgets": {"shop": 300, "blog": 120},
}

FOCUS_FILE = "hetzner.csv"


def focus_csv(today: date) -> str:
    """A FOCUS export of a small cloud bill, dated this month (read by the FOCUS collector)."""
    first = today.replace(day=1).isoformat()
    return (
        "BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,ProviderName\n"
        f"12.90,EUR,{first}T00:00:00Z,Cloud servers,Hetzner\n"
        f"4.99,EUR,{first}T00:00:00Z,Object storage,Hetzner\n"
    )


def config(fake: FakeProviders, focus_dir: Path) -> dict[str, Any]:
    """The whole demo config as data; `focus_dir` is where `write` puts the FOCUS file."""
    accounts: dict[str, Any] = {"manual": [dict(account) for account in MANUAL_ACCOUNTS]}
    accounts |= fake.accounts(wasabi_inventory=True)
    accounts["focus"] = [{"path": str(focus_dir)}]
    return {
        "reporting_currency": "USD",
        "fx_rates": {"EUR": 1.08},
        "budgets": [dict(budget) for budget in BUDGETS],
        "attribution": ATTRIBUTION,
        "providers": accounts,
    }


def write(fake: FakeProviders, directory: Path, today: date) -> Path:
    """Write the config and its FOCUS file into `directory`; returns the config file."""
    focus_dir = directory / "focus"
    focus_dir.mkdir(exist_ok=True)
    (focus_dir / FOCUS_FILE).write_text(focus_csv(today), encoding="utf-8")
    path = directory / "demo.yml"
    text = yaml.safe_dump(config(fake, focus_dir), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def environment(fake: FakeProviders, env: Mapping[str, str]) -> dict[str, str]:
    """The exporter's environment for the demo: the fake's credentials and base URLs, over
    the `COST_*` settings of `env` (listen address, log format, ...). Nothing else of `env`
    passes: a real provider credential in the caller's shell must not reach the demo."""
    settings = {k: v for k, v in env.items() if k.startswith("COST_")}
    return {**settings, **fake.env()}
