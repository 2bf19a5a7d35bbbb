"""The Costs dashboard: generated JSON in step with its generator, and well formed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import yaml

from cost_exporter import catalog

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "grafana" / "dashboards" / "costs.json"


def generator() -> Any:
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "grafana" / "dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard() -> dict[str, Any]:
    return json.loads(JSON_PATH.read_text())


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


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
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels():
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) and all(refs)


def test_panels_fit_the_24_column_grid_without_overlapping() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


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
