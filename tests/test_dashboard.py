"""The Costs dashboard: generated JSON in step with its generator, and well formed."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import yaml

from cost_exporter import catalog
from tests.dashboard_panels import DASHBOARD_JSON as JSON_PATH
from tests.dashboard_panels import ROOT, Panel, all_panels, committed_dashboard


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


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


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
    for panel in panels():
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    dashboards = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/costs.yml").read_text())
    assert dashboards["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"


def test_ids_and_ref_ids_are_unique() -> None:
    ids = [p["id"] for p in all_panels(dashboard())]
    assert len(ids) == len(set(ids))
    for panel in panels():
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
    for panel in panels():
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
    health = [p for p in panels() if "health" in p["title"].lower() or "up" in p["title"]]
    assert health
    for panel in health:
        assert any("runbook" in link["url"] for link in panel.get("links", []))


def test_cap_panels_take_the_warning_threshold_from_the_exporters_ratio() -> None:
    """The amber of a cap is the exporter's warning_ratio, read through "Config from query
    results", never a number written into the dashboard."""
    capped = [p for p in panels() if p["title"].lower().startswith(("budget used", "usage limits"))]
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
    [health] = [p for p in panels() if p["title"] == "Collector health"]
    [limit] = [t for t in health["targets"] if t["expr"] == "max(cost_data_stale_after_seconds)"]
    config = health["transformations"][0]
    assert config["id"] == "configFromData"
    assert config["options"]["configRefId"] == limit["refId"]
    assert config["options"]["mappings"][0]["fieldName"] == limit["legendFormat"]
    assert health["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "green", "value": None}
    ]
