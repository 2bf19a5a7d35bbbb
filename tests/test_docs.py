"""Generated documentation stays in step with the code.

The README's metric table is rendered from the catalog and its provider table
from the registry; run `UPDATE_DOCS=1 make test` after changing either.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cost_exporter import catalog
from cost_exporter.providers import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def metrics_table() -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for family in catalog.PUBLISHED:
        labels = ", ".join(f"`{label}`" for label in family.labels)
        meaning = family.help.replace(f" {catalog.CACHED}", "").replace("|", "\\|")
        rows.append(f"| `{family.exposed_name}` | {family.kind.value} | {labels} | {meaning} |")
    return "\n".join(rows)


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
