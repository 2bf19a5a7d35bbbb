"""Generated documentation stays in step with the code.

The README's metric table and docs/metrics.md are rendered from the catalog, the
README's provider table from the registry; run `UPDATE_DOCS=1 make test` after
changing either.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from cost_exporter import catalog
from cost_exporter.catalog import Family, Kind
from cost_exporter.providers import REGISTRY
from cost_exporter.schedule import Schedule
from cost_exporter.settings import DEFAULT_WARNING_RATIO, ExporterSettings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
METRICS_MD = ROOT / "docs" / "metrics.md"

# docs/metrics.md: an example value of every label, and the closed sets some labels take.
EXAMPLE_LABELS = {
    "provider": "vercel",
    "account": "default",
    "currency": "USD",
    "service_name": "Function Invocations",
    "source": "api",
    "charge_frequency": catalog.USAGE_BASED,
    "project": "web",
    "metric": "function_invocations",
    "bucket": "backups",
    "zone": "example.com",
    "script": "api-worker",
    "model": "gpt-4o",
    "api_key": "key_1a2b",
    "token_type": "input",
    "app": "shop",
    "team": "web",
    "app_env": "prod",
    "gateway": "main",
    "upstream": "openai",
    "metadata_key": "feature",
    "metadata_value": "search",
    "reason": "parse",
    "version": "1.0.0",
    "demo": "false",
    "from": "EUR",
    "to": "USD",
    "table": "public.orders",
    "coverage": "covered",
    "function": "send-email",
}
LABEL_VALUES = {
    "source": catalog.SOURCES,
    "charge_frequency": catalog.CHARGE_FREQUENCIES,
    "token_type": catalog.TOKEN_TYPES,
    "reason": catalog.ERROR_REASONS,
}
EXAMPLE_VALUES = {
    catalog.BUDGET: Decimal(20),
    catalog.USAGE_LIMIT: Decimal(1000000),
    catalog.WARNING_RATIO: DEFAULT_WARNING_RATIO,
    catalog.CREDIT_BALANCE_MIN: Decimal(10),
    catalog.DAILY_BUDGET: Decimal(5),
    catalog.APP_BUDGET: Decimal(400),
    catalog.COLLECTOR_UP: Decimal(1),
    catalog.COLLECTOR_FAILURES_IN_A_ROW: Decimal(0),
    catalog.DATA_STALE_AFTER: Decimal(Schedule.of(ExporterSettings()).stale_after_s),
    catalog.COLLECTOR_DURATION: Decimal("1.25"),
    catalog.COLLECTOR_SKIPPED_RECORDS: Decimal(0),
    catalog.FX_RATE: Decimal("1.08"),
}


def metrics_table() -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for family in catalog.PUBLISHED:
        labels = ", ".join(f"`{label}`" for label in family.labels) or "(none)"
        meaning = family.help.replace(f" {catalog.CACHED}", "").replace("|", "\\|")
        rows.append(f"| `{family.exposed_name}` | {family.kind.value} | {labels} | {meaning} |")
    return "\n".join(rows)


def example_value(family: Family) -> Decimal:
    if family in EXAMPLE_VALUES:
        return EXAMPLE_VALUES[family]
    if family.kind is Kind.INFO:
        return Decimal(1)
    if family.kind is Kind.COUNTER:
        return Decimal(3)
    if family.name.endswith("_timestamp_seconds"):
        return Decimal(1795395600)  # 2026-11-23T01:00:00Z
    return Decimal("12.34") if family.money else Decimal(812400)


def example(family: Family) -> str:
    labels = ",".join(f'{name}="{EXAMPLE_LABELS[name]}"' for name in sorted(family.labels))
    series = f"{family.exposed_name}{{{labels}}}" if labels else family.exposed_name
    return f"{series} {example_value(family)}"


def metrics_page() -> str:
    lines = [
        "# Metrics",
        "",
        "<!-- Generated from exporter/cost_exporter/catalog.py by `UPDATE_DOCS=1 make test`;",
        "     tests/test_docs.py fails when this page and the catalog differ. -->",
        "",
        "Every metric family cost-exporter publishes on `/metrics`. Names and labels are a",
        "public API (the rules, the dashboard and your own queries depend on them). Figures",
        "are cached and refreshed daily; caps and ratios come from the current config file.",
        "The example lines show the shape of a series, not real figures.",
    ]
    for family in catalog.PUBLISHED:
        labels = []
        for name in family.labels:
            values = LABEL_VALUES.get(name)
            known = f" ({', '.join(f'`{v}`' for v in values)})" if values else ""
            labels.append(f"`{name}`{known}")
        notes = []
        if family.money:
            notes.append("an amount in the reporting currency (`currency` names it)")
        if family.monthly:
            notes.append(
                "describes one calendar month (UTC): left out once that month is over, until "
                "a collection of the new month succeeds"
            )
        lines += [
            "",
            f"## {family.exposed_name}",
            "",
            f"- type: {family.kind.value}",
            f"- labels: {', '.join(labels) or '(none)'}",
            *(f"- {note}" for note in notes),
            "",
            family.help,
            "",
            "```text",
            example(family),
            "```",
        ]
    return "\n".join(lines) + "\n"


def test_docs_metrics_md_matches_the_catalog() -> None:
    page = metrics_page()
    if os.environ.get("UPDATE_DOCS"):
        METRICS_MD.write_text(page, encoding="utf-8")
    assert METRICS_MD.read_text(encoding="utf-8") == page, "run UPDATE_DOCS=1 make test"


def test_docs_metrics_md_has_a_section_and_an_example_per_published_family() -> None:
    text = METRICS_MD.read_text(encoding="utf-8")
    sections = re.findall(r"^## (\S+)$", text, re.M)
    assert sections == [family.exposed_name for family in catalog.PUBLISHED]
    assert {name for f in catalog.PUBLISHED for name in f.labels} <= EXAMPLE_LABELS.keys()
    for family in catalog.PUBLISHED:
        assert f"\n{example(family)}\n" in text, family.name


def providers_table() -> str:
    rows = ["| provider | environment | what it reports |", "|---|---|---|"]
    for name, spec in REGISTRY.items():
        env = ", ".join(f"`{v}`" for v in spec.env.values()) or "(config file only)"
        rows.append(f"| `{name}` | {env} | {spec.summary} |")
    return "\n".join(rows)


def section(text: str, name: str) -> str:
    match = re.search(f"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert match, f"README lacks the {name} markers"
    return match.group(1)


def replace_section(text: str, name: str, body: str) -> str:
    return re.sub(
        f"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)",
        lambda m: m.group(1) + body + m.group(2),
        text,
        flags=re.S,
    )


def test_readme_tables_match_the_catalog_and_the_registry() -> None:
    text = README.read_text()
    if os.environ.get("UPDATE_DOCS"):
        text = replace_section(text, "metrics", metrics_table())
        text = replace_section(text, "providers", providers_table())
        README.write_text(text)
    assert section(text, "metrics") == metrics_table(), "run UPDATE_DOCS=1 make test"
    assert section(text, "providers") == providers_table(), "run UPDATE_DOCS=1 make test"


def test_no_module_but_the_catalog_spells_a_metric_name() -> None:
    package = ROOT / "exporter" / "cost_exporter"
    names = [f.name for f in catalog.ALL]
    for path in package.rglob("*.py"):
        if path.name == "catalog.py":
            continue
        source = path.read_text()
        for name in names:
            assert f'"{name}"' not in source, f"{path.name} spells {name}; use catalog"


def test_every_env_variable_of_a_provider_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    for spec in REGISTRY.values():
        for variable in spec.env.values():
            assert variable in example, f"{variable} missing from .env.example"
