"""prometheus/remote-write.example.yml sends exactly the exporter's families and the series
the shipped rules record (the end-to-end proof is tests/e2e/test_remote_write_e2e.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cost_exporter import catalog

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = yaml.safe_load((ROOT / "prometheus" / "remote-write.example.yml").read_text())
RULES = yaml.safe_load((ROOT / "prometheus" / "rules" / "costs.yml").read_text())
STORES = {"mimir", "thanos-receive", "victoriametrics"}


def kept(entry: dict[str, object], name: str) -> bool:
    [rule] = entry["write_relabel_configs"]  # type: ignore[misc]
    assert rule["action"] == "keep" and rule["source_labels"] == ["__name__"]
    return re.fullmatch(rule["regex"], name) is not None  # Prometheus anchors the regex


def recorded() -> list[str]:
    return [r["record"] for g in RULES["groups"] for r in g["rules"] if "record" in r]


@pytest.mark.parametrize("name", sorted(STORES))
def test_each_store_gets_every_family_and_every_recorded_series(name: str) -> None:
    [entry] = [e for e in EXAMPLE["remote_write"] if e["name"] == name]
    assert recorded()
    for series in [f.exposed_name for f in catalog.PUBLISHED] + recorded():
        assert kept(entry, series), series
    for other in ("up", "prometheus_tsdb_head_series", "ALERTS", "scrape_duration_seconds"):
        assert not kept(entry, other), other


def test_the_example_names_the_three_stores() -> None:
    assert {e["name"] for e in EXAMPLE["remote_write"]} == STORES
