"""Every link to the runbook points at docs/runbook.md of this repository, section by section,
under one base URL that `make rules RUNBOOK_BASE=...` can change."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.binaries import PROMTOOL, require
from tests.runbook import BASE, ROOT, RUNBOOK_URL, runbook_anchors, tool

PROMETHEUS = ROOT / "prometheus"
DASHBOARD = ROOT / "grafana" / "dashboards" / "costs.json"
URL_LINE = re.compile(r"runbook_url: (\S+)")
ELSEWHERE = "https://git.example.com/ops/cost-exporter/-/blob/v2"


def runbook_urls(paths: list[Path]) -> list[str]:
    return [url for path in paths for url in URL_LINE.findall(path.read_text(encoding="utf-8"))]


def rule_and_test_files(root: Path) -> list[Path]:
    return sorted((root / "rules").glob("*.yml")) + sorted((root / "tests").glob("*.yml"))


def test_every_runbook_url_names_an_existing_section_under_the_one_base() -> None:
    anchors = runbook_anchors()
    urls = runbook_urls(rule_and_test_files(PROMETHEUS))
    assert len(urls) > 20
    for url in urls:
        page, _, anchor = url.partition("#")
        assert page == RUNBOOK_URL, url
        assert anchor in anchors, f"docs/runbook.md has no section for #{anchor}"


def test_the_dashboard_links_where_the_rules_point() -> None:
    text = DASHBOARD.read_text(encoding="utf-8")
    links = re.findall(r'"url": "(https?://[^"]+)"', text)
    assert links
    anchors = runbook_anchors()
    for link in links:
        assert link.startswith(f"{BASE}/"), link
        page, _, anchor = link.partition("#")
        if page == RUNBOOK_URL and anchor:
            assert anchor in anchors, link
    assert json.loads(text)["links"][0]["url"] == RUNBOOK_URL


def test_make_rules_moves_every_url_to_another_base_and_back(tmp_path: Path) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = copy / "runbook.py"
    before = {path.name: path.read_text() for path in rule_and_test_files(copy)}

    subprocess.run([sys.executable, script, ELSEWHERE + "/"], check=True, capture_output=True)
    moved = {path.name: path.read_text() for path in rule_and_test_files(copy)}
    for name, text in moved.items():
        changed = [
            (old, new)
            for old, new in zip(before[name].splitlines(), text.splitlines(), strict=True)
            if old != new
        ]
        assert changed or "runbook_url" not in text, name
        for old, new in changed:
            assert URL_LINE.search(old) and URL_LINE.search(new), (old, new)
            assert new == old.replace(BASE, ELSEWHERE), new
    assert tool(script).base() == ELSEWHERE
    # The rules and the annotations their tests expect moved together.
    output = subprocess.run(
        [require(PROMTOOL), "test", "rules", *(str(p) for p in sorted(copy.glob("tests/*.yml")))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert output.returncode == 0, output.stdout + output.stderr

    subprocess.run([sys.executable, script, BASE], check=True, capture_output=True)
    assert {path.name: path.read_text() for path in rule_and_test_files(copy)} == before


@pytest.mark.parametrize("argv", [[], ["not a url"], ["https://a", "https://b"]])
def test_the_tool_refuses_anything_but_one_url(argv: list[str]) -> None:
    assert tool().main(argv) == 2


def test_make_rules_rewrites_the_rules_and_regenerates_the_dashboard() -> None:
    dry = subprocess.run(
        ["make", "-n", "rules", f"RUNBOOK_BASE={ELSEWHERE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"prometheus/runbook.py '{ELSEWHERE}'" in dry
    assert "grafana/dashboard.py > grafana/dashboards/costs.json" in dry
