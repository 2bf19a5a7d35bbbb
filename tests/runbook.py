"""The runbook base the shipped rules point at, read through `prometheus/runbook.py`."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK_MD = ROOT / "docs" / "runbook.md"


def tool(path: Path = ROOT / "prometheus" / "runbook.py") -> Any:
    spec = importlib.util.spec_from_file_location("runbook", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the `## ` sections of docs/runbook.md."""
    return {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^## (.+)$", RUNBOOK_MD.read_text(encoding="utf-8"), re.M)
    }


BASE = tool().base()
RUNBOOK_URL = f"{BASE}/docs/runbook.md"
