"""The end-to-end tests run the shipped files: their copies change addresses and timings only.

No binaries needed: this compares the shipped prometheus.yml, rules and
alertmanager.yml with the temporary copies harness.py writes, key by key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import (
    PROMETHEUS_DIR,
    alertmanager_config_copy,
    load_yaml,
    prometheus_config_copy,
    rules_copy,
)

Path_ = tuple[str, ...]


def changed_keys(shipped: Any, copy: Any, at: Path_ = ()) -> set[Path_]:
    """Paths (list indexes as "*") whose values differ; lists of scalars compare whole."""
    if isinstance(shipped, dict) and isinstance(copy, dict):
        keys = set(shipped) | set(copy)
        return {
            path
            for key in keys
            for path in changed_keys(shipped.get(key), copy.get(key), (*at, str(key)))
        }
    if (
        isinstance(shipped, list)
        and isinstance(copy, list)
        and len(shipped) == len(copy)
        and any(isinstance(item, dict) for item in shipped)
    ):
        return {
            path
            for old, new in zip(shipped, copy, strict=True)
            for path in changed_keys(old, new, (*at, "*"))
        }
    return set() if shipped == copy else {at}


def test_prometheus_copy_changes_only_addresses_intervals_and_rule_paths() -> None:
    shipped = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    copy = prometheus_config_copy(
        shipped,
        exporter="127.0.0.1:1",
        alertmanager="127.0.0.1:2",
        rule_files=["/tmp/rules/costs.yml"],
        unused="127.0.0.1:3",
    )
    allowed = {"scrape_interval", "evaluation_interval", "scrape_timeout", "rule_files", "targets"}
    changed = changed_keys(shipped, copy)
    assert {path[-1] for path in changed} <= allowed, changed
    assert ("scrape_configs", "*", "static_configs", "*", "targets") in changed
    assert ("alerting", "alertmanagers", "*", "static_configs", "*", "targets") in changed


def test_rules_copy_changes_only_for_durations() -> None:
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        shipped = load_yaml(path)
        changed = changed_keys(shipped, rules_copy(shipped))
        assert changed == {("groups", "*", "rules", "*", "for")}, path.name


def test_alertmanager_copy_changes_only_addresses_secret_files_and_group_timings(
    tmp_path: Path,
) -> None:
    shipped = load_yaml(PROMETHEUS_DIR / "alertmanager.yml")
    copy = alertmanager_config_copy(
        shipped,
        webhook_url="http://127.0.0.1:1/alerts",
        slack_url="http://127.0.0.1:1/slack",
        unused="127.0.0.1:2",
        secrets_dir=tmp_path,
    )
    allowed = {
        "url",
        "api_url",
        "api_url_file",
        "smarthost",
        "auth_password_file",
        "smtp_smarthost",
        "smtp_auth_password_file",
        "slack_api_url_file",
        "group_wait",
        "group_interval",
    }
    changed = changed_keys(shipped, copy)
    assert {path[-1] for path in changed} <= allowed, changed
    assert ("receivers", "*", "webhook_configs", "*", "url") in changed
    assert copy["inhibit_rules"] == shipped["inhibit_rules"]
    assert copy["route"]["repeat_interval"] == shipped["route"]["repeat_interval"]
