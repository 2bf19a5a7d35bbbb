"""The Costs dashboard: generated JSON in step with its generator, and well formed."""

from __future__ import annotations

import importlib.util
import itertools
import re
from typing import Any

import yaml

from cost_exporter import catalog
from tests.dashboard_panels import DASHBOARD_JSON as JSON_PATH
from tests.dashboard_panels import ROOT, Panel, all_panels, committed_dashboard
from tests.runbook import BASE


def generator() -> Any:
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "grafana" / "dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard() -> dict[str, Any]:
    return committed_dashboard()


def panels() -> list[Panel]:
    """Every panel but the rows, those a collapsed row carries included."""
    return [p for p in all_panels(dashboard()) if p["type"] != "row"]


def query_panels() -> list[Panel]:
    """The panels that draw queries: all but the rows and the how-to texts of opt-in rows."""
    return [p for p in panels() if p["type"] != "text"]


def exprs() -> list[str]:
    return [t["expr"] for p in query_panels() for t in p["targets"]]


def test_committed_json_matches_the_generator() -> None:
    assert JSON_PATH.read_text() == generator().render(), (
        "run: .venv/bin/python grafana/dashboard.py > grafana/dashboards/costs.json"
    )


def test_title_uid_and_provisioned_datasource() -> None:
    board = dashboard()
    assert board["title"] == "Costs"
    assert 8 <= len(board["uid"]) <= 40
    provisioning = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = provisioning["datasources"][0]["uid"]
    for panel in query_panels():
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    dashboards = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/costs.yml").read_text())
    assert dashboards["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"


def test_ids_and_ref_ids_are_unique() -> None:
    ids = [p["id"] for p in all_panels(dashboard())]
    assert len(ids) == len(set(ids))
    for panel in query_panels():
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) and all(refs)


def assert_fit_without_overlapping(panels: list[Panel]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


def test_panels_fit_the_24_column_grid_without_overlapping() -> None:
    """The dashboard as it opens, and each collapsed row's panels as Grafana lays them out
    under the row when it is expanded (pushing the panels below it down)."""
    board = dashboard()
    assert_fit_without_overlapping(board["panels"])
    for row in board["panels"]:
        nested = row.get("panels", [])
        assert_fit_without_overlapping(nested)
        assert all(p["gridPos"]["y"] > row["gridPos"]["y"] for p in nested), row["title"]


def test_every_panel_has_a_description_and_a_unit() -> None:
    for panel in query_panels():
        assert panel["description"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]


def test_every_variable_used_is_defined() -> None:
    defined = {v["name"] for v in dashboard()["templating"]["list"]}
    text = JSON_PATH.read_text()
    used = set(re.findall(r"\$(\w+)", text)) - {"__all", "__url_time_range", "__field"}
    used = {name for name in used if not name.startswith("__")}
    assert used <= defined, used - defined


# Every cost_ name, wherever it stands (before a selector, a bracket, a parenthesis, a space
# or the end), but not inside a recorded series name (level:metric:operation).
METRIC_NAME = re.compile(r"(?<![\w:])cost_\w+(?![\w:])")


def test_every_metric_a_query_names_is_in_the_catalog() -> None:
    known = {f.exposed_name for f in catalog.ALL}
    named = set()
    for expr in exprs():
        for name in METRIC_NAME.findall(expr):
            assert name in known, f"{name} in {expr}"
            named.add(name)
    # The check reads the names the dashboard really uses, not a lucky few.
    assert len(named) >= 25, sorted(named)


def test_the_metric_name_pattern_finds_a_name_in_any_position() -> None:
    expr = "sum(cost_a) / cost_b{x='y'} + rate(cost_c[5m]) * cost_d and x:cost_e:sum"
    assert METRIC_NAME.findall(expr) == ["cost_a", "cost_b", "cost_c", "cost_d"]


def test_health_panels_link_to_the_runbook() -> None:
    health = [p for p in query_panels() if "health" in p["title"].lower() or "up" in p["title"]]
    assert health
    for panel in health:
        assert any("runbook" in link["url"] for link in panel.get("links", []))


def test_cap_panels_take_the_warning_threshold_from_the_exporters_ratio() -> None:
    """The amber of a cap is the exporter's warning_ratio, read through "Config from query
    results", never a number written into the dashboard."""
    capped = [
        p for p in query_panels() if p["title"].lower().startswith(("budget used", "usage limits"))
    ]
    assert len(capped) == 3
    for panel in capped:
        [ratio] = [t for t in panel["targets"] if t["expr"] == "max(cost_budget_warning_ratio)"]
        [config] = [t for t in panel["transformations"] if t["id"] == "configFromData"]
        assert config["options"]["configRefId"] == ratio["refId"], panel["title"]
        [mapping] = config["options"]["mappings"]
        assert mapping == {
            "fieldName": ratio["legendFormat"],
            "handlerKey": "threshold1",
            "reducerId": "lastNotNull",
        }
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert all(s["value"] is None or s["value"] >= 1 for s in steps), panel["title"]


def test_collector_health_colours_data_age_from_the_exporters_staleness_limit() -> None:
    [health] = [p for p in query_panels() if p["title"] == "Collector health"]
    [limit] = [t for t in health["targets"] if t["expr"] == "max(cost_data_stale_after_seconds)"]
    config = health["transformations"][0]
    assert config["id"] == "configFromData"
    assert config["options"]["configRefId"] == limit["refId"]
    assert config["options"]["mappings"][0]["fieldName"] == limit["legendFormat"]
    assert health["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "green", "value": None}
    ]


# Features off by default, or that need a provider's credentials: their rows start collapsed.
OPT_IN_ROWS = {
    "Daily caps and usage limits",
    "By app",
    "AI",
    "By feature (Cloudflare AI Gateway)",
    "Supabase",
}
README_LINK = re.compile(r"https?://[^\s\"()]+/README\.md#([^\s\"()]*)")


def test_every_panel_draws_queries_but_the_how_to_texts() -> None:
    assert {p["type"] for p in panels() if not p.get("targets")} == {"text"}


def test_opt_in_rows_are_collapsed_and_open_with_how_to_turn_them_on() -> None:
    rows = [p for p in dashboard()["panels"] if p["type"] == "row"]
    collapsed = [r for r in rows if r["collapsed"]]
    assert {r["title"] for r in collapsed} == OPT_IN_ROWS
    for row in rows:
        # An open row's panels follow it in the dashboard's list; a collapsed row's are its own.
        assert bool(row["panels"]) == row["collapsed"], row["title"]
    for row in collapsed:
        how_to, *charts = row["panels"]
        assert how_to["type"] == "text" and how_to["options"]["mode"] == "markdown"
        assert "How to turn it on" in how_to["options"]["content"], row["title"]
        assert README_LINK.search(how_to["options"]["content"]), row["title"]
        assert charts and all(p["type"] not in ("row", "text") for p in charts), row["title"]


def test_nothing_but_a_row_follows_a_collapsed_row() -> None:
    """Grafana counts a top-level panel after a row as that row's: collapsing the row again
    once it was opened would take such a panel into it."""
    for before, after in itertools.pairwise(dashboard()["panels"]):
        if before["type"] == "row" and before["collapsed"]:
            assert after["type"] == "row", f"{after['title']} after {before['title']}"


def readme_anchors() -> set[str]:
    """GitHub's anchors of README.md's headings: lowercase, punctuation but `-` and `_`
    dropped, spaces turned into `-`. Lines in fenced code blocks are no headings."""
    anchors, fenced = set(), False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            anchors.add(re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-"))
    return anchors


def test_github_anchors_follow_githubs_rules() -> None:
    anchors = readme_anchors()
    assert "supabase-api-requests-month-to-date-rows-and-functions" in anchors
    assert "the-status-page-on-" in anchors  # `### The status page on `/``
    assert (
        "with-compose-the-one-shot-backfill-profile-does-both-into-the-prometheus-data-volume"
        not in anchors
    )


def test_every_readme_anchor_the_dashboard_links_is_a_readme_heading() -> None:
    text = JSON_PATH.read_text(encoding="utf-8")
    links = README_LINK.findall(text)
    # The attribution help of the By app row, and the how-to of each opt-in row.
    assert len(links) > len(OPT_IN_ROWS), links
    missing = set(links) - readme_anchors()
    assert not missing, f"README.md has no heading for {sorted(missing)}"
    for url in re.findall(r"https?://[^\s\"()]+/README\.md", text):
        assert url == f"{BASE}/README.md", url


def test_the_supabase_row_draws_every_supabase_figure_once_per_replica() -> None:
    [row] = [p for p in dashboard()["panels"] if p["title"] == "Supabase"]
    exprs = [t["expr"] for p in row["panels"] for t in p.get("targets", ())]
    drawn = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert drawn == {
        catalog.TABLE_ROWS.exposed_name,
        catalog.USAGE.exposed_name,
        catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE.exposed_name,
        catalog.SUPABASE_API_REQUESTS_DAY_COVERAGE.exposed_name,
        catalog.SUPABASE_FUNCTION_INVOCATIONS_24H.exposed_name,
    }
    assert any('metric="database_rows"' in expr for expr in exprs)
    assert any('source="estimated"' in expr for expr in exprs)
    for expr in exprs:
        # max by the family's own labels first (tests/test_prometheus_bundle.py checks every
        # sum of the dashboard the same way, with a PromQL parser).
        assert expr.count("max by (") == len(METRIC_NAME.findall(expr)), expr
        assert "without (instance)" not in expr, expr
