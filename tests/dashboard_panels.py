"""The committed Costs dashboard as the tests read it, collapsed rows included.

Grafana's JSON model keeps the panels of a collapsed row in the row's own `panels` list, not
in the dashboard's: a test that iterated `board["panels"]` alone would skip them, so every
test that checks panels walks them through `all_panels`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_JSON = ROOT / "grafana" / "dashboards" / "costs.json"

Panel = dict[str, Any]


def committed_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_JSON.read_text(encoding="utf-8")))


def all_panels(board: dict[str, Any]) -> list[Panel]:
    """Every panel in the order Grafana draws them expanded: rows too, each collapsed row
    followed by the panels it carries (Grafana nests no row in a row: one level)."""
    found: list[Panel] = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", ()))
    return found


def open_panels(board: dict[str, Any]) -> list[Panel]:
    """The panels Grafana shows when the dashboard opens: the top level, rows aside (the
    panels of a collapsed row are its own, drawn only once it is expanded)."""
    return [panel for panel in board["panels"] if panel["type"] != "row"]
