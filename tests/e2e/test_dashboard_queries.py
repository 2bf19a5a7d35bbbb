"""Every query of the Costs dashboard returns data from real Prometheus.

The real exporter collects from the fake billing APIs of every provider, a real
Prometheus (Debian 2.42) scrapes it, and each panel's PromQL, with the template
variables set to "All", must come back non-empty: no panel silently shows
"No data". Template variable queries are checked the same way.
"""

from __future__ import annotations

import re

import pytest

from tests.dashboard_panels import all_panels, committed_dashboard
from tests.e2e.conftest import StartStack
from tests.e2e.harness import wait_until

DASHBOARD = committed_dashboard()
ALL = ".*"


def panel_queries() -> list[tuple[str, str]]:
    queries = []
    for panel in all_panels(DASHBOARD):
        for target in panel.get("targets", ()):
            queries.append((f"{panel['title']} [{target['refId']}]", target["expr"]))
    return queries


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


# Enough rules for every "By app" panel: apps with and without a budget, a split of a
# manual bill, breakdown values of Vercel, OpenAI and Wasabi, and spend left unallocated.
ATTRIBUTION = {
    "rules": [
        {"match": {"provider": "vercel", "project": "web"}, "app": "shop", "app_env": "prod"},
        {"match": {"provider": "vercel"}, "app": "platform", "team": "ops"},
        {"match": {"provider": "openai", "project": "proj_fake1"}, "app": "shop"},
        {"match": {"provider": "wasabi", "bucket": "backups"}, "app": "blog"},
        {
            "match": {"provider": "ovh"},
            "split": [{"app": "shop", "weight": 0.5}, {"app": "blog", "weight": 0.5}],
        },
    ],
    "app_budgets": {"shop": 100, "blog": 1000},
}


@pytest.mark.e2e
def test_every_panel_and_variable_query_returns_data(start_stack: StartStack) -> None:
    from tests.fake_providers import FakeProviders

    budgets = [
        {
            "provider": "vercel",
            "monthly": 20,
            "daily": 1,
            "usage_limits": {"function_invocations": 1000000},
        },
        {"provider": "ovh", "monthly": 300},
    ]
    with FakeProviders() as fake:
        config = fake.config(budgets)
        config["attribution"] = ATTRIBUTION
        stack = start_stack(config, env=fake.env())
        # The trend panels look back a day; one scrape of each series is enough.
        wait_until(
            lambda: bool(stack.query("cost_ai_tokens")) and bool(stack.query("cost_last_day")),
            timeout=30,
            what="Prometheus has scraped the AI and daily families",
        )
        empty = []
        for name, expr in panel_queries() + variable_series_selectors():
            if not stack.query(with_all_selected(expr)):
                empty.append(f"{name}: {expr}")
        assert not empty, "queries without data:\n" + "\n".join(empty)
