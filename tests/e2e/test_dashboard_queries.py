"""Every query of the Costs dashboard returns data from real Prometheus.

`cost-exporter demo` (the real exporter against the fake billing APIs of every
provider, with attribution, daily caps and usage limits) runs as a user starts it,
a real Prometheus (Debian 2.42) scrapes it, and each panel's PromQL, collapsed
rows included, with the template variables set to "All", must come back
non-empty: the demo shows no empty panel. Template variable queries are checked
the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.dashboard_panels import Panel, all_panels, committed_dashboard, open_panels
from tests.e2e import binaries
from tests.e2e.conftest import StartStack
from tests.e2e.harness import Stack, wait_until
from tests.helpers import NOW

DASHBOARD = committed_dashboard()
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "exporter" / "config.example.yml"
ALL = ".*"


def panel_queries(panels: list[Panel]) -> list[tuple[str, str]]:
    queries = []
    for panel in panels:
        for target in panel.get("targets", ()):
            queries.append((f"{panel['title']} [{target['refId']}]", target["expr"]))
    return queries


def demo_exporters(stack: Stack) -> str:
    """What the "Demo data in view" panel counts, as Prometheus answers it."""
    [expr] = [
        target["expr"]
        for panel in all_panels(DASHBOARD)
        if panel["title"] == "Demo data in view"
        for target in panel["targets"]
    ]
    [sample] = stack.query(expr)
    return str(sample["value"][1])


def with_all_selected(expr: str) -> str:
    for name in ("provider", "account", "model", "app"):
        expr = expr.replace(f"${name}", ALL)
    return expr


def variable_series_selectors() -> list[tuple[str, str]]:
    """`label_values(selector, label)` -> the selector, which must match series."""
    found = []
    for variable in DASHBOARD["templating"]["list"]:
        match = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["definition"])
        assert match, variable["definition"]
        found.append((f"${variable['name']}", with_all_selected(match[1])))
    return found


@pytest.mark.e2e
def test_every_panel_and_variable_query_returns_data_from_the_demo(
    start_stack: StartStack,
) -> None:
    # The demo's fake data is dated by its clock: on the 1st of a month no day of it has
    # completed and this month's Supabase requests are rightly unknown. libfaketime starts
    # the demo at NOW, a day with a past (Prometheus scrapes on the real clock; the series
    # carry no timestamps).
    demo = binaries.exporter_at(NOW, "demo")
    # The demo writes its own config; the stack's is not read.
    stack = start_stack({}, exporter_argv=demo)
    assert demo_exporters(stack) == "1"
    # The trend panels look back a day; one scrape of each series is enough.
    wait_until(
        lambda: bool(stack.query("cost_ai_tokens")) and bool(stack.query("cost_last_day")),
        timeout=30,
        what="Prometheus has scraped the AI and daily families",
    )
    queries = panel_queries(all_panels(DASHBOARD))
    # Collapsed rows included: their panels are nested in the row, not in the top-level list.
    assert any(name.startswith("Edge Function invocations") for name, _ in queries)
    empty = []
    for name, expr in queries + variable_series_selectors():
        if not stack.query(with_all_selected(expr)):
            empty.append(f"{name}: {expr}")
    assert not empty, "queries without data:\n" + "\n".join(empty)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "at",
    [
        pytest.param(NOW, id="mid-month"),
        # The 1st at 00:10 after a February: no day of the month has completed yet.
        pytest.param(datetime(2027, 3, 1, 0, 10, tzinfo=UTC), id="first-of-month"),
    ],
)
def test_a_default_setup_opens_on_no_empty_panel(start_stack: StartStack, at: datetime) -> None:
    """`make run`'s config (fixed bills and a budget, no credentials): what the dashboard
    shows open has data; features that are off wait in their collapsed rows."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    stack = start_stack(config, exporter_argv=binaries.exporter_at(at))
    queries = panel_queries(open_panels(DASHBOARD))
    assert "Spend by provider [A]" in dict(queries)
    assert demo_exporters(stack) == "0"
    empty = [
        f"{name}: {expr}" for name, expr in queries if not stack.query(with_all_selected(expr))
    ]
    assert not empty, "open panels without data:\n" + "\n".join(empty)
