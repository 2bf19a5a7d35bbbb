"""Attribution: every bill ends up at an app (or "unallocated"), to the cent, and no further.

The fixture month below holds what each provider's collector reports (services, breakdowns
and bucket usage shaped like tests/fake_providers.py), collected on 2026-11-23 at 01:00 UTC.
ATTRIBUTION uses every kind of rule: breakdown values, globs, provider-level catch-alls,
splits, manual vendors and a FOCUS vendor; some spend is left unallocated on purpose.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cost_exporter import attribution, catalog, dimensions
from cost_exporter import snapshot as snapshots
from cost_exporter.attribution import Item, Target
from cost_exporter.catalog import Family
from cost_exporter.cli import main
from cost_exporter.errors import ConfigError
from cost_exporter.exposition import render
from cost_exporter.figures import derive
from cost_exporter.providers import REGISTRY, env_specs
from cost_exporter.samples import Money, Sample
from cost_exporter.settings import AttributionRule, Config, load_config
from cost_exporter.snapshot import AccountState, Snapshot

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
COLLECTED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC).timestamp()
TB = 1024**4
MIB = 1024**2
MTD, PREV = catalog.MONTH_TO_DATE, catalog.PREVIOUS_MONTH

# --- the fixture month ------------------------------------------------------------------


def spend(
    family: Family, amount: str, service: str, currency: str = "USD", **labels: str
) -> Sample:
    source = labels.pop("source", "api")
    frequency = labels.pop("charge_frequency", catalog.USAGE_BASED)
    return Sample.of(
        family,
        Money.of(amount, currency),
        service_name=service,
        source=source,
        charge_frequency=frequency,
        **labels,
    )


def money(family: Family, amount: str, **labels: str) -> Sample:
    return Sample.of(family, Money.of(amount, "USD"), **labels)


def bucket(name: str, metric: str, value: int) -> Sample:
    return Sample.of(catalog.BUCKET_USAGE, Decimal(value), bucket=name, metric=metric)


def worker(script: str, metric: str, value: int | str) -> Sample:
    return Sample.of(catalog.WORKER_USAGE, Decimal(value), script=script, metric=metric)


SAMPLES: dict[str, tuple[Sample, ...]] = {
    # 26.50 this month: web 5.40 and api 2.10 by project, the plan and a credit in no project.
    "vercel": (
        spend(MTD, "20", "Pro Plan"),
        spend(MTD, "1.40", "Function Invocations"),
        spend(MTD, "1.50", "Fast Data Transfer"),
        spend(MTD, "3.60", "Function Duration"),
        money(catalog.PROJECT_MONTH_TO_DATE, "5.40", project="web"),
        money(catalog.PROJECT_MONTH_TO_DATE, "2.10", project="api"),
        spend(PREV, "20", "Pro Plan"),
        spend(PREV, "7.50", "Function Invocations"),
    ),
    # Nothing per project: the plan fee, compute and the credits that pay for it.
    "supabase": (
        spend(MTD, "25", "Plan", source="manual"),
        spend(MTD, "10.88", "Compute", source="estimated"),
        spend(MTD, "-10.88", "Compute Credits", source="estimated"),
        spend(PREV, "25", "Plan", source="manual"),
    ),
    # An estimate that is not whole cents; two buckets of 2.0 TB and 0.5 TB.
    "wasabi": (
        spend(MTD, "8.708375", "Storage", source="estimated"),
        spend(PREV, "6.99", "Storage", source="estimated"),
        bucket("backups", "padded_storage_bytes", 3 * TB // 2),
        bucket("backups", "metadata_storage_bytes", 512 * MIB),
        bucket("backups", "deleted_storage_bytes", TB // 2),
        bucket("backups", "api_calls", 800),
        bucket("media", "padded_storage_bytes", TB // 2),
        bucket("media", "metadata_storage_bytes", 512 * MIB),
        bucket("media", "deleted_storage_bytes", 0),
    ),
    # 8.00: R2 Storage (0.15) is shared by the buckets' bytes, 5:1; Workers* (6.95) by the
    # scripts' requests, 4:1; two zones bill 0.75 and 1.20, the rest (6.05) has no zone.
    "cloudflare": (
        spend(MTD, "5", "Workers Paid"),
        spend(MTD, "0.75", "Workers Standard Requests"),
        spend(MTD, "1.20", "Workers Standard CPU Time"),
        spend(MTD, "0.15", "R2 Storage"),
        spend(MTD, "0.90", "R2 Class A Operations"),
        Sample.of(
            catalog.BUCKET_USAGE, Decimal(5_000_000_000), bucket="assets", metric="r2_storage_bytes"
        ),
        Sample.of(
            catalog.BUCKET_USAGE, Decimal(1_000_000_000), bucket="logs", metric="r2_storage_bytes"
        ),
        money(catalog.ZONE_MONTH_TO_DATE, "0.75", zone="shop.example.com"),
        money(catalog.ZONE_MONTH_TO_DATE, "1.20", zone="blog.example.com"),
        worker("api", "requests", 1_200_000),
        worker("api", "cpu_time_seconds", "3.5"),
        worker("cron", "requests", 300_000),
        worker("cron", "cpu_time_seconds", "0.5"),
        spend(PREV, "10", "Workers Paid"),
        spend(PREV, "-2.50", "total"),
    ),
    # 8.00 by line item, by project and by key (one walk: all three add up to the same).
    "openai": (
        spend(MTD, "1.25", "gpt-4o-mini-2024-07-18, input"),
        spend(MTD, "0.75", "gpt-4o-mini-2024-07-18, output"),
        spend(MTD, "0.50", "web search tool calls"),
        spend(MTD, "2.25", "gpt-4o-2024-08-06, input"),
        spend(MTD, "3.25", "gpt-4o-2024-08-06, output"),
        money(catalog.AI_SPEND_BY_PROJECT, "2.50", project="proj_shop"),
        money(catalog.AI_SPEND_BY_PROJECT, "5.50", project="proj_lab"),
        money(catalog.AI_SPEND_BY_API_KEY, "2.00", api_key="key_shop", source="api"),
        money(catalog.AI_SPEND_BY_API_KEY, "0.50", api_key="key_search", source="api"),
        money(catalog.AI_SPEND_BY_API_KEY, "5.50", api_key="key_lab", source="api"),
        spend(PREV, "40", "gpt-4o-2024-08-06, output"),
    ),
    # 56.00 by workspace (top 2 and 'other'); per key an estimate that covers less.
    "anthropic": (
        spend(MTD, "37.50", "Claude Sonnet 4 Usage - Input Tokens"),
        spend(MTD, "18.50", "Claude Opus 4.6 Usage - Output Tokens"),
        money(catalog.AI_SPEND_BY_PROJECT, "37.50", project="wrkspc_shop"),
        money(catalog.AI_SPEND_BY_PROJECT, "15.50", project="wrkspc_lab"),
        money(catalog.AI_SPEND_BY_PROJECT, "3.00", project="other"),
        money(catalog.AI_SPEND_BY_API_KEY, "30", api_key="apikey_shop", source="estimated"),
        money(catalog.AI_SPEND_BY_API_KEY, "20", api_key="apikey_lab", source="estimated"),
        spend(PREV, "76", "Claude Sonnet 4 Usage - Input Tokens"),
    ),
    # 7.00 of completed days; the keys' monthly usage (7.68) includes today: scaled down.
    "openrouter": (
        spend(MTD, "7", "Inference"),
        money(catalog.AI_SPEND_BY_API_KEY, "5.20", api_key="prod-backend", source="api"),
        money(catalog.AI_SPEND_BY_API_KEY, "1.05", api_key="staging", source="api"),
        money(catalog.AI_SPEND_BY_API_KEY, "1.40", api_key="leaked-laptop", source="api"),
        money(catalog.AI_SPEND_BY_API_KEY, "0.03", api_key="ci", source="api"),
    ),
    # Fixed bills in EUR (1.08), each labelled with the vendor it pays.
    "manual": (
        spend(MTD, "6", "VPS", "EUR", provider="ionos", source="manual"),
        spend(MTD, "250", "Dedicated server", "EUR", provider="ovh", source="manual"),
        spend(MTD, "185", "Claude Max", "EUR", provider="anthropic", source="manual"),
        spend(MTD, "12.96", "Tooling", provider="hetzner", source="manual"),
        spend(PREV, "6", "VPS", "EUR", provider="ionos", source="manual"),
        spend(PREV, "250", "Dedicated server", "EUR", provider="ovh", source="manual"),
    ),
    "focus": (
        spend(MTD, "13.0", "Public Cloud Instances", provider="ovhcloud"),
        spend(PREV, "30.0", "Public Cloud Instances", provider="ovhcloud"),
    ),
}

ATTRIBUTION: dict[str, Any] = {
    "rules": [
        {
            "match": {"provider": "vercel", "project": "web"},
            "app": "shop",
            "team": "web",
            "app_env": "prod",
        },
        {"match": {"provider": "vercel", "project": "api*"}, "app": "shop-api", "team": "web"},
        {
            "match": {"provider": "vercel"},
            "split": [
                {"app": "shop", "team": "web", "app_env": "prod", "weight": 0.5},
                {"app": "blog", "weight": 0.5},
            ],
        },
        {
            "match": {"provider": "openai", "project": "proj_shop"},
            "app": "shop",
            "team": "web",
            "app_env": "prod",
        },
        {"match": {"provider": "anthropic", "workspace": "wrkspc_*"}, "app": "assistant"},
        {"match": {"provider": "anthropic", "service_name": "Claude Max"}, "app": "assistant"},
        {"match": {"provider": "wasabi", "bucket": "backups"}, "app": "backups"},
        {
            "match": {"provider": "cloudflare", "bucket": "assets"},
            "app": "shop",
            "team": "web",
            "app_env": "prod",
        },
        {
            "match": {"provider": "cloudflare", "service_name": "Workers*"},
            "app": "shop",
            "team": "web",
            "app_env": "prod",
        },
        {
            "match": {"provider": "ovh"},
            "split": [
                {"app": "shop", "team": "web", "app_env": "prod", "weight": 0.5},
                {"app": "blog", "weight": 0.3},
                {"app": "crm", "weight": 0.2},
            ],
        },
        {
            "match": {"provider": "supabase"},
            "split": [
                {"app": "shop", "team": "web", "app_env": "prod", "weight": "0.34"},
                {"app": "blog", "weight": "0.33"},
                {"app": "crm", "weight": "0.33"},
            ],
        },
        {"match": {"provider": "focus", "vendor": "ovh*"}, "app": "crm"},
        {
            "match": {"provider": "openrouter", "api_key": "prod-*"},
            "app": "shop",
            "team": "web",
            "app_env": "prod",
        },
    ],
    "app_budgets": {"shop": 100, "blog": 50},
}
MANUAL_BILLS = [
    {
        "name": "IONOS VPS",
        "provider": "ionos",
        "service_name": "VPS",
        "amount": 6,
        "currency": "EUR",
    },
    {
        "name": "OVH",
        "provider": "ovh",
        "service_name": "Dedicated server",
        "amount": 250,
        "currency": "EUR",
    },
    {
        "name": "Claude Max",
        "provider": "anthropic",
        "service_name": "Claude Max",
        "amount": 185,
        "currency": "EUR",
    },
]
SECRETS = {
    "VERCEL_API_TOKEN": "fake-vercel-token",
    "SUPABASE_ACCESS_TOKEN": "sbp_fake-supabase-token",
    "SUPABASE_PROJECT_REF": "abcdefghijklmnopqrst",
    "WASABI_ACCESS_KEY": "FAKEWASABIKEY",
    "WASABI_SECRET_KEY": "fake-wasabi-secret",
    "CLOUDFLARE_API_TOKEN": "fake-cloudflare-token",
    "CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef",
    "OPENAI_ADMIN_KEY": "sk-admin-fake",
    "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-fake",
    "OPENROUTER_API_KEY": "sk-or-v1-fake",
    "FOCUS_PATH": "/nonexistent/focus",
}


def snapshot() -> Snapshot:
    states = [
        AccountState(name, "default", samples=samples, up=True, last_success=COLLECTED)
        for name, samples in SAMPLES.items()
    ]
    return Snapshot({state.key: state for state in states})


def config_file(tmp_path: Path, section: dict[str, Any] | None = ATTRIBUTION) -> Path:
    data: dict[str, Any] = {
        "reporting_currency": "USD",
        "fx_rates": {"EUR": 1.08},
        # The bills the fixture's manual collector reported (hetzner came from a CSV file).
        "providers": {"manual": [{"bills": MANUAL_BILLS}]},
    }
    if section is not None:
        data["attribution"] = section
    path = tmp_path / "costs.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def config(tmp_path: Path, section: dict[str, Any] | None = ATTRIBUTION) -> Config:
    return load_config(SECRETS, config_file(tmp_path, section), env_specs())


def error(tmp_path: Path, section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, section)
    return str(caught.value)


def by_provider(values: dict[tuple[str, ...], Decimal], family: Family) -> dict[str, Decimal]:
    index = family.labels.index("provider")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for labels, value in values.items():
        totals[labels[index]] += value
    return dict(totals)


def allocated(
    series: Any, family: Family = catalog.ALLOCATED_MONTH_TO_DATE
) -> dict[tuple[str, str], Decimal]:
    """(app, provider) -> amount."""
    result: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (app, _team, _env, provider, _currency), value in series.get(family, {}).items():
        result[(app, provider)] += value
    return dict(result)


def rule(**match: str) -> AttributionRule:
    return AttributionRule(match=match, app="x")


def item(dimension: str | None = None, value: str = "", **kw: str) -> Item:
    fields: dict[str, Any] = {"collector": "vercel", "provider": "vercel", "account": "default"}
    fields.update(kw)
    return Item(amount=Decimal(1), dimension=dimension, value=value, **fields)


# --- matching -------------------------------------------------------------------------


def test_a_rule_matches_exact_values_and_globs() -> None:
    web = item("project", "web-shop")
    assert attribution.matches(rule(provider="vercel", project="web-shop"), web)
    assert attribution.matches(rule(provider="vercel", project="web-*"), web)
    assert attribution.matches(rule(provider="vercel", project="*shop", account="def*"), web)
    assert not attribution.matches(rule(provider="vercel", project="web"), web)
    assert not attribution.matches(rule(provider="vercel", project="Web-*"), web)  # case counts
    assert not attribution.matches(rule(provider="vercel", account="prod"), web)
    assert not attribution.matches(rule(provider="openai", project="web-shop"), web)
    # A value holding glob characters still matches itself exactly.
    assert attribution.matches(rule(provider="vercel", project="[beta]"), item("project", "[beta]"))


def test_a_rule_on_a_dimension_never_takes_an_item_without_it() -> None:
    remainder = item(None)  # what the project breakdown does not cover
    assert not attribution.matches(rule(provider="vercel", project="*"), remainder)
    assert attribution.matches(rule(provider="vercel"), remainder)
    service = item("service_name", "Pro Plan")
    assert not attribution.matches(rule(provider="vercel", project="*"), service)
    assert attribution.matches(rule(provider="vercel", service_name="Pro*"), service)


def test_a_manual_bill_is_matched_by_its_vendor_or_by_the_collector() -> None:
    bill = item("service_name", "VPS", collector="manual", provider="ionos")
    assert attribution.matches(rule(provider="ionos"), bill)
    assert attribution.matches(rule(provider="manual", vendor="ion*"), bill)
    assert attribution.matches(rule(provider="manual", service_name="VPS"), bill)
    assert not attribution.matches(rule(provider="manual", vendor="ovh"), bill)


def test_the_first_matching_rule_wins() -> None:
    rules = [
        AttributionRule(match={"provider": "vercel", "project": "web"}, app="shop"),
        AttributionRule(match={"provider": "vercel", "project": "*"}, app="other-projects"),
        AttributionRule(match={"provider": "vercel"}, app="platform"),
    ]
    assert attribution.first_match(rules, item("project", "web")) == 0
    assert attribution.first_match(rules, item("project", "docs")) == 1
    assert attribution.first_match(rules, item(None)) == 2
    assert attribution.first_match(rules, item(None, provider="ovh", collector="manual")) is None


def test_every_dimension_of_every_provider_is_tested() -> None:
    tested = {(provider, dim) for provider, dim, _value, _amount in DIMENSION_CASES}
    table = {(name, dim) for name in REGISTRY for dim in dimensions.dimensions(name)}
    # Providers without a fixture (a new collector) are covered by their service_name.
    assert table - {(p, d) for p, d in table if p not in SAMPLES} <= tested


DIMENSION_CASES = [
    ("vercel", "project", "web", "5.40"),
    ("vercel", "service_name", "Pro Plan", "20"),
    ("supabase", "service_name", "Plan", "25"),
    ("wasabi", "bucket", "media", "1.7417"),  # 0.5 of 2.5 TB stored (+ metadata) of 8.708375
    ("wasabi", "service_name", "Storage", "8.708375"),
    ("cloudflare", "bucket", "logs", "0.025"),  # 1 of 6 GB of R2 Storage (0.15)
    ("cloudflare", "zone", "shop.example.com", "0.75"),
    ("cloudflare", "script", "cron", "1.39"),  # 0.3 of 1.5M requests of Workers* (6.95)
    ("cloudflare", "service_name", "R2 Class A Operations", "0.90"),
    ("openai", "project", "proj_lab", "5.50"),
    ("openai", "api_key", "key_search", "0.50"),
    ("openai", "service_name", "web search tool calls", "0.50"),
    ("anthropic", "workspace", "wrkspc_lab", "15.50"),
    ("anthropic", "api_key", "apikey_lab", "20"),
    ("anthropic", "service_name", "Claude Max", "199.80"),  # the manual bill labelled anthropic
    ("openrouter", "api_key", "staging", "0.956845"),  # 1.05 x 7.00 / 7.68, rounded
    ("openrouter", "service_name", "Inference", "7"),
    ("manual", "vendor", "hetzner", "12.96"),
    ("manual", "service_name", "Dedicated server", "270"),
    ("focus", "vendor", "ovhcloud", "13"),
    ("focus", "service_name", "Public Cloud Instances", "13"),
]


@pytest.mark.parametrize(("provider", "dimension", "value", "amount"), DIMENSION_CASES)
def test_each_provider_dimension_attributes_its_share(
    tmp_path: Path, provider: str, dimension: str, value: str, amount: str
) -> None:
    section = {"rules": [{"match": {"provider": provider, dimension: value}, "app": "picked"}]}
    series = derive(snapshot(), config(tmp_path, section), NOW)
    picked = sum((v for (app, _), v in allocated(series).items() if app == "picked"), Decimal(0))
    assert abs(picked - Decimal(amount)) < Decimal("0.01"), picked


# --- splits and cents --------------------------------------------------------------------


def shares(*weights: str) -> AttributionRule:
    split = [{"app": f"app{n}", "weight": w} for n, w in enumerate(weights)]
    return AttributionRule.model_validate({"match": {"provider": "ovh"}, "split": split})


def bill(total: str, *amounts: str) -> attribution.Bill:
    items = tuple(
        Item("manual", "ovh", "default", Decimal(a), "service_name", f"s{n}")
        for n, a in enumerate(amounts or (total,))
    )
    return attribution.Bill("manual", "ovh", "default", Decimal(total), items)


def test_a_weighted_split_adds_up_to_the_bill_to_the_cent() -> None:
    parts = attribution.allocate(bill("10"), [shares("0.34", "0.33", "0.33")])
    assert parts == {
        Target("app0"): Decimal("3.40"),
        Target("app1"): Decimal("3.30"),
        Target("app2"): Decimal("3.30"),
    }
    # 100 / 3 three ways: one cent is left over and goes to the first app.
    parts = attribution.allocate(bill("100"), [shares("0.3333", "0.3333", "0.3334")])
    assert parts == {
        Target("app0"): Decimal("33.33"),
        Target("app1"): Decimal("33.33"),
        Target("app2"): Decimal("33.34"),
    }
    parts = attribution.allocate(bill("0.01"), [shares("0.5", "0.5")])
    assert parts == {Target("app0"): Decimal("0.01"), Target("app1"): Decimal("0.00")}
    parts = attribution.allocate(bill("2.5"), [shares("0.5", "0.5")])
    assert sum(parts.values()) == Decimal("2.5")


def test_a_bill_of_fractions_of_a_cent_keeps_its_rest_on_the_largest_share() -> None:
    parts = attribution.allocate(bill("8.708375"), [shares("0.75", "0.25")])
    assert sum(parts.values()) == Decimal("8.708375")
    assert parts[Target("app1")] == Decimal("2.17")  # a whole number of cents
    assert parts[Target("app0")] == Decimal("6.538375")  # 6.53 + the rest of the bill


@given(
    amounts=st.lists(st.decimals("-1000", "100000", places=6), min_size=1, max_size=6),
    weights=st.lists(st.integers(1, 1000), min_size=1, max_size=5),
)
def test_any_split_of_any_bill_adds_up_to_it_exactly(
    amounts: list[Decimal], weights: list[int]
) -> None:
    whole = sum(weights)
    fractions = [Decimal(w) / whole for w in weights]
    fractions[-1] = 1 - sum(fractions[:-1])
    rule = AttributionRule(
        match={"provider": "ovh"},
        split=[{"app": f"a{n}", "weight": f} for n, f in enumerate(fractions)],  # type: ignore[misc]
    )
    total = sum(amounts, Decimal(0))
    parts = attribution.allocate(bill(str(total), *map(str, amounts)), [rule])
    assert sum(parts.values()) == total
    for n, fraction in enumerate(fractions):
        assert abs(parts[Target(f"a{n}")] - total * fraction) < Decimal("0.02")


# --- breakdowns, remainders, reconciliation ---------------------------------------------------


def test_what_the_breakdown_does_not_cover_goes_through_provider_rules_else_unallocated(
    tmp_path: Path,
) -> None:
    series = derive(snapshot(), config(tmp_path), NOW)
    apps = allocated(series)
    # Vercel: web 5.40 to shop; api 2.10 to shop-api; the plan and credit (19.00) split 50/50.
    assert apps[("shop-api", "vercel")] == Decimal("2.10")
    assert apps[("shop", "vercel")] == Decimal("5.40") + Decimal("9.50")
    assert apps[("blog", "vercel")] == Decimal("9.50")
    # OpenAI: proj_lab (5.50) matches no rule and there is no provider-level rule.
    assert apps[("shop", "openai")] == Decimal("2.50")
    assert apps[("unallocated", "openai")] == Decimal("5.50")
    # Anthropic: the 'other' workspace row is not a workspace: unallocated.
    assert apps[("assistant", "anthropic")] == Decimal("37.50") + Decimal("15.50") + Decimal(
        "199.80"
    )
    assert apps[("unallocated", "anthropic")] == Decimal("3.00")
    # Unmatched providers are unallocated whole.
    assert apps[("unallocated", "ionos")] == Decimal("6.48")
    assert apps[("unallocated", "hetzner")] == Decimal("12.96")


def test_a_usage_breakdown_shares_only_the_services_it_describes(tmp_path: Path) -> None:
    apps = allocated(derive(snapshot(), config(tmp_path), NOW))
    # Cloudflare: assets gets 5/6 of R2 Storage (0.125) and Workers 6.95: 7.075; logs' share
    # of storage (0.025) and R2 operations (0.90) are unallocated: 0.925. Both are half a
    # cent over: the cent goes to the app that sorts first.
    assert apps[("shop", "cloudflare")] == Decimal("7.08")
    assert apps[("unallocated", "cloudflare")] == Decimal("0.92")


def cloudflare_apps(tmp_path: Path, rules: list[dict[str, Any]]) -> dict[str, Decimal]:
    series = derive(snapshot(), config(tmp_path, {"rules": rules}), NOW)
    apps = {app: v for (app, provider), v in allocated(series).items() if provider == "cloudflare"}
    assert sum(apps.values()) == by_provider(series[MTD], MTD)["cloudflare"] == Decimal("8.00")
    return apps


def test_cloudflare_zones_take_their_spend_and_account_charges_are_the_rest(
    tmp_path: Path,
) -> None:
    rules = [
        {"match": {"provider": "cloudflare", "zone": "shop.example.com"}, "app": "shop"},
        {"match": {"provider": "cloudflare", "zone": "*.example.com"}, "app": "blog"},
    ]
    assert cloudflare_apps(tmp_path, rules) == {
        "shop": Decimal("0.75"),
        "blog": Decimal("1.20"),
        "unallocated": Decimal("6.05"),  # charges without a zone: no zone rule takes them
    }
    rules.append({"match": {"provider": "cloudflare"}, "app": "platform"})
    assert cloudflare_apps(tmp_path, rules)["platform"] == Decimal("6.05")


def test_cloudflare_scripts_share_the_workers_spend_by_requests(tmp_path: Path) -> None:
    rules = [
        {"match": {"provider": "cloudflare", "script": "api"}, "app": "shop"},
        {"match": {"provider": "cloudflare"}, "app": "platform"},
    ]
    # api: 1.2M of 1.5M requests of Workers Paid, Requests and CPU Time (6.95) = 5.56;
    # the platform keeps cron's share (1.39) and the R2 services (1.05).
    assert cloudflare_apps(tmp_path, rules) == {
        "shop": Decimal("5.56"),
        "platform": Decimal("2.44"),
    }


def test_a_top_n_other_row_is_no_value_a_dimension_rule_takes() -> None:
    def labels(**extra: str) -> dict[str, str]:
        return {"provider": "cloudflare", "account": "default", "currency": "USD", **extra}

    rows = [
        (MTD, labels(service_name="Workers Paid", source="api"), Decimal(5)),
        (MTD, labels(service_name="R2 Storage", source="api"), Decimal(1)),
        (catalog.WORKER_USAGE, labels(script="api", metric="requests"), Decimal(3)),
        (catalog.WORKER_USAGE, labels(script="other", metric="requests"), Decimal(1)),
        (catalog.WORKER_USAGE, labels(script="other", metric="cpu_time_seconds"), Decimal(99)),
        (catalog.ZONE_MONTH_TO_DATE, labels(zone="a.example"), Decimal(2)),
        (catalog.ZONE_MONTH_TO_DATE, labels(zone="other"), Decimal(1)),
    ]
    for dimension, taken in (("script", "3.75"), ("zone", "2")):
        [cut] = attribution.bills(("cloudflare", rows), MTD, dimension)
        rule = AttributionRule(match={"provider": "cloudflare", dimension: "*"}, app="a")
        parts = attribution.allocate(cut, [rule])
        assert parts == {Target("a"): Decimal(taken), Target("unallocated"): 6 - Decimal(taken)}


def test_allocated_spend_adds_up_to_every_providers_total_in_both_months(tmp_path: Path) -> None:
    series = derive(snapshot(), config(tmp_path), NOW)
    for family, month in attribution.MONTHS:
        expected = by_provider(series[month], month)
        assert by_provider(series[family], family) == expected
        assert set(expected) == {
            "vercel",
            "supabase",
            "wasabi",
            "cloudflare",
            "openai",
            "anthropic",
            "openrouter",
            "ionos",
            "ovh",
            "hetzner",
            "ovhcloud",
        } - ({"openrouter", "hetzner"} if family is catalog.ALLOCATED_PREVIOUS_MONTH else set())
        for value in series[family].values():
            # Whole cents, but for the sub-cent rest of an estimate (Wasabi).
            assert value == value.quantize(Decimal("0.000001"))


def test_every_app_gets_whole_cents_except_the_rest_of_a_fractional_bill(tmp_path: Path) -> None:
    series = derive(snapshot(), config(tmp_path), NOW)
    fractional = [
        labels
        for labels, value in series[catalog.ALLOCATED_MONTH_TO_DATE].items()
        if value != value.quantize(Decimal("0.01"))
    ]
    assert {labels[3] for labels in fractional} == {"wasabi"}


def test_without_rules_everything_is_unallocated_and_still_adds_up(tmp_path: Path) -> None:
    series = derive(snapshot(), config(tmp_path, {}), NOW)
    values = series[catalog.ALLOCATED_MONTH_TO_DATE]
    assert {labels[0] for labels in values} == {"unallocated"}
    assert by_provider(values, catalog.ALLOCATED_MONTH_TO_DATE) == by_provider(series[MTD], MTD)


def test_without_an_attribution_section_no_allocated_series_is_published(tmp_path: Path) -> None:
    text = render(derive(snapshot(), config(tmp_path, None), NOW)).text.decode()
    assert "cost_month_to_date{" in text
    assert "cost_allocated" not in text and "cost_app_budget" not in text


def test_app_budgets_are_published_from_the_current_config(tmp_path: Path) -> None:
    text = render(derive(snapshot(), config(tmp_path), NOW)).text.decode()
    assert 'cost_app_budget{app="shop",currency="USD"} 100.0' in text
    assert 'cost_app_budget{app="blog",currency="USD"} 50.0' in text
    assert (
        'cost_allocated_month_to_date{app="shop",app_env="prod",currency="USD",provider="vercel",team="web"} 14.9'
        in text
    )


def test_last_months_snapshot_allocates_nothing_this_month(tmp_path: Path) -> None:
    old = datetime(2026, 10, 31, 1, 0, tzinfo=UTC).timestamp()
    states = {k: replace(s, last_success=old) for k, s in snapshot().accounts.items()}
    series = derive(Snapshot(states), config(tmp_path), NOW)
    assert catalog.ALLOCATED_MONTH_TO_DATE not in series


# --- bad rules fail at start-up, naming the key ------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "reason"),
    [
        (
            {"rules": [{"match": {"provider": "vercell"}, "app": "a"}]},
            "attribution.rules.0.match.provider",
            "unknown provider 'vercell'",
        ),
        (
            {"rules": [{"match": {"project": "web"}, "app": "a"}]},
            "attribution.rules.0.match.provider",
            "required",
        ),
        (
            {"rules": [{"match": {"provider": "vercel", "projekt": "web"}, "app": "a"}]},
            "attribution.rules.0.match.projekt",
            "unknown dimension for vercel",
        ),
        (
            {"rules": [{"match": {"provider": "supabase", "project_ref": "x"}, "app": "a"}]},
            "attribution.rules.0.match.project_ref",
            "unknown dimension for supabase",
        ),
        (
            {
                "rules": [
                    {"match": {"provider": "openai", "project": "a", "api_key": "b"}, "app": "a"}
                ]
            },
            "attribution.rules.0.match",
            "a rule matches one dimension",
        ),
        (
            {
                "rules": [
                    {
                        "match": {"provider": "ovh"},
                        "split": [{"app": "a", "weight": 0.5}, {"app": "b", "weight": 0.4}],
                    }
                ]
            },
            "attribution.rules.0.split",
            "weights add up to 0.9; they must add up to 1",
        ),
        (
            {
                "rules": [
                    {
                        "match": {"provider": "ovh"},
                        "split": [{"app": "a", "weight": 0.7}, {"app": "b", "weight": 0.4}],
                    }
                ]
            },
            "attribution.rules.0.split",
            "weights add up to 1.1",
        ),
        (
            {"rules": [{"match": {"provider": "ovh"}, "split": [{"app": "a", "weight": 0}]}]},
            "attribution.rules.0.split.0.weight",
            "greater than 0",
        ),
        (
            {
                "rules": [
                    {"match": {"provider": "ovh"}, "app": "a", "split": [{"app": "b", "weight": 1}]}
                ]
            },
            "attribution.rules.0.split",
            "inside each share",
        ),
        (
            {"rules": [{"match": {"provider": "ovh"}, "team": "web"}]},
            "attribution.rules.0",
            "give app",
        ),
        (
            {"rules": [{"match": {"provider": "ovh"}, "app": "unallocated"}]},
            "attribution.rules.0",
            "reserved",
        ),
        (
            {"rules": [{"match": {"provider": "ovh", "account": ""}, "app": "a"}]},
            "attribution.rules.0.match.account",
            "empty",
        ),
        (
            {
                "rules": [
                    {"match": {"provider": "openai", "project": "a"}, "app": "a"},
                    {"match": {"provider": "openai", "api_key": "b"}, "app": "b"},
                ]
            },
            "attribution.rules.1.match.api_key",
            "rules.0 already attributes openai by project",
        ),
        (
            {"rules": [{"match": {"provider": "ovh"}, "app": "a"}], "app_budgets": {"shopp": 10}},
            "attribution.app_budgets.shopp",
            "no rule attributes spend to this app",
        ),
        (
            {"rules": [{"match": {"provider": "ovh"}, "app": "a"}], "app_budgets": {"a": -1}},
            "attribution.app_budgets",
            "cannot be negative",
        ),
        (
            {"rules": [{"match": {"provider": "cloudflare", "worker": "api"}, "app": "a"}]},
            "attribution.rules.0.match.worker",
            "unknown dimension for cloudflare (account, bucket, script, service_name, zone)",
        ),
        (
            {
                "rules": [
                    {"match": {"provider": "cloudflare", "zone": "a.example"}, "app": "a"},
                    {"match": {"provider": "cloudflare", "script": "api"}, "app": "b"},
                ]
            },
            "attribution.rules.1.match.script",
            "rules.0 already attributes cloudflare by zone",
        ),
        (
            {"rules": [{"match": {"provider": "ovh"}, "app": "a", "colour": "red"}]},
            "attribution.rules.0.colour",
            "Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_rule_fails_at_start_up_naming_file_and_key(
    tmp_path: Path, section: dict[str, Any], key: str, reason: str
) -> None:
    message = error(tmp_path, section)
    assert message.startswith(f"{tmp_path / 'costs.yml'}: {key}"), message
    assert reason in message


def test_vendors_named_by_manual_bills_are_known_providers(tmp_path: Path) -> None:
    loaded = config(
        tmp_path, {"rules": [{"match": {"provider": "ionos", "service_name": "VPS"}, "app": "a"}]}
    )
    assert loaded.attribution is not None
    message = error(
        tmp_path, {"rules": [{"match": {"provider": "ionos", "project": "x"}, "app": "a"}]}
    )
    assert "unknown dimension for ionos (account, service_name, vendor)" in message


ROOT = Path(__file__).resolve().parent.parent


def example_manual_bills() -> list[dict[str, Any]]:
    example = yaml.safe_load((ROOT / "exporter" / "config.example.yml").read_text())
    return [b for account in example["providers"]["manual"] for b in account["bills"]]


def test_the_commented_example_in_config_example_yml_is_valid(tmp_path: Path) -> None:
    text = (ROOT / "exporter" / "config.example.yml").read_text()
    block = text[text.index("# attribution:") :]
    section = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))
    bills = example_manual_bills()
    path = tmp_path / "costs.yml"
    path.write_text(yaml.safe_dump({"providers": {"manual": [{"bills": bills}]}, **section}))
    loaded = load_config({}, path, env_specs())
    assert loaded.attribution is not None and len(loaded.attribution.rules) == 3


def test_the_readme_worked_example_is_valid_and_attributes_the_fixture_month(
    tmp_path: Path,
) -> None:
    readme = (ROOT / "README.md").read_text()
    part = readme[readme.index("### Attribute costs to apps") :]
    section = yaml.safe_load(part[part.index("```yaml\n") + 8 : part.index("```\n", 1)])
    loaded = config(tmp_path, section["attribution"])
    series = derive(snapshot(), loaded, NOW)
    apps = allocated(series)
    assert apps[("shop", "ovh")] == Decimal("135.00")  # half of 250 EUR x 1.08
    assert apps[("crm", "supabase")] == Decimal("10.00")
    assert by_provider(
        series[catalog.ALLOCATED_MONTH_TO_DATE], catalog.ALLOCATED_MONTH_TO_DATE
    ) == by_provider(series[MTD], MTD)


# --- the CLI ----------------------------------------------------------------------------


def run_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: dict[str, Any] | None, *args: str
) -> tuple[int, str, str]:
    path = config_file(tmp_path, section)
    env = {**SECRETS, "COST_CONFIG_FILE": str(path), "COST_STATE_DIR": str(tmp_path / "state")}
    code = main(["attribution", *args], env=env)
    out, err = capsys.readouterr()
    return code, out, err


def save_snapshot(tmp_path: Path) -> None:
    snapshots.save(snapshot(), tmp_path / "state" / snapshots.FILE_NAME)


def test_the_cli_prints_each_apps_share_and_the_largest_unallocated_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_snapshot(tmp_path)
    code, out, _ = run_cli(tmp_path, capsys, ATTRIBUTION)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Spend this month per app (USD), snapshot of 2026-11-23 01:00 UTC")
    shop = next(line for line in lines if line.startswith("shop "))
    assert shop.split() == ["shop", "web", "prod", "172.72", "100.00", "173%"]
    assert lines[lines.index(shop) - 1].split() == ["assistant", "252.80"]  # largest first
    assert lines[lines.index(shop) + 1].split() == ["blog", "98.75", "50.00", "198%"]
    total = next(line for line in lines if line.startswith("total"))
    expected = sum(by_provider(derive(snapshot(), config(tmp_path), NOW)[MTD], MTD).values())
    assert total.split()[-1] == f"{expected:.2f}"
    unallocated = lines.index("Largest unallocated items: a rule with this match takes one")
    # hetzner came from a CSV: no rule can name it as a provider, but as a vendor of manual.
    assert lines[unallocated + 2].split() == [
        "12.96",
        "{provider:",
        "manual,",
        "vendor:",
        "hetzner,",
        "service_name:",
        "Tooling}",
    ]
    assert "{provider: ionos, service_name: VPS}" in out
    assert "{provider: openai, project: proj_lab}" in out
    assert "{provider: anthropic}  # not covered by its workspace breakdown" in out
    assert "{provider: wasabi, bucket: media}" in out


def suggested_rules(text: str) -> list[dict[str, Any]]:
    """Every `match:` printed in `text`, as a rule for an app of its own."""
    found = re.findall(r"^ *-?[0-9.]+  (\{provider.*?\})(?:  #.*)?$", text, re.M)
    return [{"match": yaml.safe_load(m), "app": f"app{n}"} for n, m in enumerate(found)]


def unallocated_with(tmp_path: Path, rules: list[dict[str, Any]]) -> dict[str, Decimal]:
    series = derive(snapshot(), config(tmp_path, {"rules": rules}), NOW)
    return {p: v for (app, p), v in allocated(series).items() if app == "unallocated"}


def test_pasting_the_suggested_matches_as_rules_leaves_nothing_unallocated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_snapshot(tmp_path)
    code, out, _ = run_cli(tmp_path, capsys, {"rules": []}, "--top", "100")
    assert code == 0
    items, breakdowns = out.split("\nOr attribute these bills by a breakdown")
    by_item = suggested_rules(items)
    assert len(by_item) == 26
    assert unallocated_with(tmp_path, by_item) == {}
    # Or by one breakdown per provider (each with its rest), services for the others.
    by_breakdown: list[dict[str, Any]] = []
    chosen: dict[str, set[str]] = {}
    for candidate in suggested_rules(breakdowns):
        provider = candidate["match"]["provider"]
        dims = set(candidate["match"]) & set(dimensions.BREAKDOWNS.get(provider, {}))
        if not dims or dims == chosen.setdefault(provider, dims):
            by_breakdown.append(candidate)
    by_breakdown += [r for r in by_item if r["match"]["provider"] not in chosen]
    assert unallocated_with(tmp_path, by_breakdown) == {}


def test_the_cli_without_an_attribution_section_says_everything_is_unallocated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_snapshot(tmp_path)
    code, out, _ = run_cli(tmp_path, capsys, None)
    assert code == 0
    assert "no attribution: section" in out
    assert "{provider: vercel, service_name: Pro Plan}" in out
    # Bills whose rules match no breakdown yet also list the breakdown's values.
    assert "Or attribute these bills by a breakdown" in out
    assert "{provider: vercel, project: web}" in out
    assert "{provider: wasabi, bucket: backups}" in out


def test_the_cli_without_a_snapshot_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(tmp_path, capsys, ATTRIBUTION)
    assert code == 1
    assert "no snapshot at" in err and "start the exporter" in err


def test_suggested_values_are_quoted_when_yaml_would_misread_them() -> None:
    known = {"openai"}
    suggest = attribution.suggested_match
    assert (
        suggest(item("service_name", "gpt-4o, input", provider="openai", collector="openai"), known)
        == '{provider: openai, service_name: "gpt-4o, input"}'
    )
    assert (
        suggest(item("project", "123", provider="openai", collector="openai"), known)
        == '{provider: openai, project: "123"}'
    )
    assert (
        suggest(
            item("project", "web app", provider="openai", collector="openai", account="eu"), known
        )
        == "{provider: openai, account: eu, project: web app}"
    )
    for text in (
        '{provider: openai, service_name: "gpt-4o, input"}',
        '{provider: openai, project: "123"}',
    ):
        assert isinstance(json.dumps(yaml.safe_load(text)), str)
