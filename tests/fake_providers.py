"""The tests' side of the fake billing APIs: what they expect from it, and how they run it.

The server itself (every provider's API, shaped like its official documentation, on one
local port) is `cost_exporter.demo.providers`: `cost-exporter demo` serves it too. Its names
the tests use are re-exported here, so `from tests.fake_providers import FakeProviders, ...`
keeps working. What stays here is what a test must own:

- the expected values, written as literals (`FIXED_MONTH_TO_DATE`, `expected_month_to_date`,
  `AI_GATEWAY_SPEND_TOTAL`, `SUPABASE_DATABASE_ROWS`, `supabase_day_requests`, ...). They
  repeat amounts the server's data tables hold on purpose: derived from those tables, a wrong
  table would pass its own test;
- config writing from exporter/config.example.yml (`FakeProviders.config`, `write_config`,
  `exporter_env`), which is a file of the repository, not of the installed package;
- the `fake_providers` pytest fixture.

    with FakeProviders() as fake:                       # or the `fake_providers` fixture
        env = fake.exporter_env(tmp_path, budgets=[...])  # env + COST_CONFIG_FILE + COST_STATE_DIR
        subprocess.run([sys.executable, "-m", "cost_exporter", "collect", "--once"], env=env, ...)

`write_config` copies the fixed bills of exporter/config.example.yml except its "Supabase Pro
plan": the Supabase collector reports the plan fee itself (SUPABASE_PLAN=pro), and both would
count. Month-to-date per provider, for any date: Vercel 26.50, Cloudflare 8.00, OpenAI 8.00,
Anthropic 56.00, Supabase 25.00 (plan; compute and its credits cancel), OpenRouter 7.00 (none
on the 1st), Wasabi 6.99 x 2.5 TB x completed days / 30 (an estimate). The AI Gateway
reports none (its estimate of the same AI traffic stays out of the totals): its own spend
families add up to AI_GATEWAY_SPEND_TOTAL, 8.00. OpenRouter's per-key spend of both
workspaces adds up to 10.43. Supabase's tables hold SUPABASE_DATABASE_ROWS rows, and a whole
UTC day of its API counts `supabase_day_requests(day)`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from cost_exporter.demo import providers as server
from cost_exporter.demo.providers import (
    ANTHROPIC_ADMIN_KEY,
    BASE_PATHS,
    CF_BLOG,
    CF_SHOP,
    CLOUDFLARE_ACCOUNT_ID,
    CLOUDFLARE_TOKEN,
    DOCUMENTED_LIMITS,
    LIMIT_GROUPS,
    OPENAI_ADMIN_KEY,
    OPENROUTER_API_KEY,
    PROVIDERS,
    SUPABASE_FUNCTIONS,
    SUPABASE_PLAN,
    SUPABASE_REF,
    SUPABASE_TOKEN,
    VERCEL_TEAM_ID,
    VERCEL_TOKEN,
    WASABI_ACCESS_KEY,
    WASABI_SECRET_KEY,
    Window,
)

__all__ = [
    "AI_GATEWAY_SPEND_TOTAL",
    "ANTHROPIC_ADMIN_KEY",
    "BASE_PATHS",
    "CF_BLOG",
    "CF_SHOP",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_TOKEN",
    "DOCUMENTED_LIMITS",
    "FIXED_MONTH_TO_DATE",
    "LIMIT_GROUPS",
    "OPENAI_ADMIN_KEY",
    "OPENROUTER_API_KEY",
    "PROVIDERS",
    "SUPABASE_DATABASE_ROWS",
    "SUPABASE_FUNCTIONS",
    "SUPABASE_PLAN",
    "SUPABASE_REF",
    "SUPABASE_TOKEN",
    "VERCEL_FUNCTION_INVOCATIONS",
    "VERCEL_TEAM_ID",
    "VERCEL_TOKEN",
    "WASABI_ACCESS_KEY",
    "WASABI_SECRET_KEY",
    "FakeProviders",
    "Window",
    "expected_manual_month_to_date",
    "expected_month_to_date",
    "fake_providers",
    "supabase_day_requests",
]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "exporter" / "config.example.yml"

# --- what the fake serves, written down ------------------------------------------------------

# Month-to-date per provider, whatever the date (see the docstring).
FIXED_MONTH_TO_DATE = {
    "vercel": Decimal("26.50"),
    "supabase": Decimal("25.00"),
    "cloudflare": Decimal("8.00"),
    "openai": Decimal("8.00"),
    "anthropic": Decimal("56.00"),
    "openrouter": Decimal("7.00"),
}
AI_GATEWAY_SPEND_TOTAL = Decimal("8.00")
VERCEL_FUNCTION_INVOCATIONS = 1_600_000  # this month: above a usage limit of 1
SUPABASE_DATABASE_ROWS = 1_209_300  # storage.objects counts its planner estimate
# Wasabi: 2 TB active and 0.5 TB deleted per completed day, at 6.99 per TB-month.
WASABI_ACTIVE_TB, WASABI_DELETED_TB = Decimal(2), Decimal("0.5")
WASABI_PRICE_PER_TB_MONTH = Decimal("6.99")


def supabase_day_requests(day: date) -> int:
    """The API requests of one whole UTC day: 3155 plus 10 per day of the month."""
    return 3155 + 10 * day.day


def expected_month_to_date(today: date) -> dict[str, Decimal | None]:
    """Month-to-date spend per provider that the collectors read from the fake on `today`.

    Only the API collectors; manual bills are in `expected_manual_month_to_date`. None: the
    provider exports no month-to-date series that day (OpenRouter on the 1st, when no day of
    the month has completed). Wasabi is an estimate that grows with the completed days.
    """
    totals: dict[str, Decimal | None] = dict(FIXED_MONTH_TO_DATE)
    totals["cloudflare_ai_gateway"] = None  # never: the same AI traffic is billed upstream
    if today.day == 1:
        totals["openrouter"] = None
    days = today.day - 1  # completed days
    # Wasabi's minimum charge is 1 TB; its TB-day is a 30th of the monthly price.
    billed = max(WASABI_ACTIVE_TB * days, Decimal(days)) + WASABI_DELETED_TB * days
    wasabi = WASABI_PRICE_PER_TB_MONTH / 30 * billed
    totals["wasabi"] = wasabi.quantize(Decimal("0.000001"))
    return totals


# --- the example config's fixed bills ---------------------------------------------------------


def example_config() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# A fixed bill of the example that an API collector served here reports itself: the Supabase
# collector exports the plan fee (SUPABASE_PLAN), so the example's "Supabase Pro plan" bill
# would count it twice.
REPORTED_BY_COLLECTOR = {"supabase"}


def manual_accounts(providers: Iterable[str] = PROVIDERS) -> list[dict[str, Any]]:
    """The `manual` accounts of exporter/config.example.yml, less the bills of
    REPORTED_BY_COLLECTOR providers among `providers`."""
    skip = REPORTED_BY_COLLECTOR & set(providers)
    accounts = []
    for account in example_config()["providers"]["manual"]:
        bills = [b for b in account.get("bills") or [] if b.get("provider") not in skip]
        accounts.append({**account, "bills": bills})
    return accounts


def expected_manual_month_to_date(
    today: date, providers: Iterable[str] = PROVIDERS
) -> dict[str, Decimal]:
    """Month-to-date of the fixed bills `write_config` copies from the example, per provider."""
    example = example_config()
    rates = {code: Decimal(str(rate)) for code, rate in (example.get("fx_rates") or {}).items()}
    reporting = example.get("reporting_currency", "USD")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    # YYYY-MM strings compare in calendar order: a bill counts between its start and end.
    month = f"{today.year:04d}-{today.month:02d}"
    for account in manual_accounts(providers):
        for bill in account["bills"]:
            if not str(bill.get("start") or month) <= month <= str(bill.get("end") or month):
                continue
            currency = bill.get("currency", "USD")
            rate = Decimal(1) if currency == reporting else rates[currency]
            totals[bill["provider"]] += Decimal(str(bill["amount"])) * rate
    return dict(totals)


# --- the server, with config writing ----------------------------------------------------------


class FakeProviders(server.FakeProviders):
    """`cost_exporter.demo.providers.FakeProviders`, plus config files for the tests."""

    def config(
        self,
        budgets: Sequence[Mapping[str, Any]] | None = None,
        *,
        manual: bool = True,
        providers: Iterable[str] = PROVIDERS,
        wasabi_inventory: bool = False,
    ) -> dict[str, Any]:
        """The YAML config as data: see `write_config`."""
        example = example_config()
        chosen = set(providers)
        accounts: dict[str, list[dict[str, Any]]] = {}
        if manual:
            accounts["manual"] = manual_accounts(chosen)
        accounts |= self.accounts(chosen, wasabi_inventory=wasabi_inventory)
        return {
            "reporting_currency": example.get("reporting_currency", "USD"),
            "fx_rates": example.get("fx_rates") or {},
            "budgets": [dict(b) for b in budgets or ()],
            "providers": accounts,
        }

    def write_config(
        self,
        path: Path,
        budgets: Sequence[Mapping[str, Any]] | None = None,
        *,
        manual: bool = True,
        providers: Iterable[str] = PROVIDERS,
        wasabi_inventory: bool = False,
    ) -> Path:
        """Write a config file enabling `providers` against this server; returns `path`.

        Each provider gets `base_url`; Wasabi also `inventory: false` unless `wasabi_inventory`
        (the fake answers the S3 inventory too, but boto3 makes a collection ~0.5 s slower).
        Credentials and the other settings still come from `env()`. The reporting currency and FX rates are those
        of exporter/config.example.yml; `manual` adds its fixed bills too (less those in
        REPORTED_BY_COLLECTOR: the Supabase plan fee). `budgets` is written as given,
        e.g. `[{"provider": "vercel", "monthly": 20, "usage_limits": {"function_invocations": 1}}]`.
        """
        data = self.config(
            budgets, manual=manual, providers=providers, wasabi_inventory=wasabi_inventory
        )
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def exporter_env(
        self,
        tmp_path: Path,
        budgets: Sequence[Mapping[str, Any]] | None = None,
        *,
        manual: bool = True,
        providers: Iterable[str] = PROVIDERS,
        wasabi_inventory: bool = False,
        **extra: str,
    ) -> dict[str, str]:
        """A whole environment for the exporter: `env()`, `write_config` into `tmp_path`
        (COST_CONFIG_FILE), COST_STATE_DIR in `tmp_path`, PATH, and `extra` on top."""
        chosen = list(providers)
        config = self.write_config(
            tmp_path / "fake-providers.yml",
            budgets,
            manual=manual,
            providers=chosen,
            wasabi_inventory=wasabi_inventory,
        )
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **self.env(chosen),
            "COST_CONFIG_FILE": str(config),
            "COST_STATE_DIR": str(tmp_path / "state"),
            **extra,
        }


@pytest.fixture
def fake_providers() -> Iterator[FakeProviders]:
    """A running FakeProviders, stopped after the test.

    Register it in a conftest.py: `from tests.fake_providers import fake_providers  # noqa: F401`
    (imported into a test module, ruff calls the parameter a redefinition, F811). Or start one
    yourself, e.g. in a module-scoped fixture: `with FakeProviders(latency_s=0.02) as fake: ...`.
    """
    with FakeProviders() as fake:
        yield fake
