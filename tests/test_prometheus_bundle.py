"""The Prometheus/Alertmanager bundle passes the official checkers and keeps its promises.

With the binaries (Debian `prometheus`, `prometheus-alertmanager`): `promtool
check config/rules/metrics`, `promtool test rules` and `amtool check-config`
/ `config routes test`. They skip without the binaries, and fail instead when
`CI` is set (tests/e2e/binaries.py).

Without binaries: every alert has its labels, annotations and runbook
section; the rules only query metrics the exporter publishes; Alertmanager
never inhibits BudgetWarning and reads its secrets from files.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cost_exporter import catalog
from cost_exporter.http_client import HttpClient
from cost_exporter.providers import env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import load_config, load_exporter_settings
from tests.e2e.binaries import AMTOOL, PROMTOOL, require

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "prometheus"
PROMETHEUS_YML = PROMETHEUS / "prometheus.yml"
ALERTMANAGER_YML = PROMETHEUS / "alertmanager.yml"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/cost-exporter/cost-exporter/blob/main/docs/runbook.md"
EXAMPLE_CONFIG = ROOT / "exporter" / "config.example.yml"
GOLDEN_METRICS = ROOT / "tests" / "golden" / "metrics.txt"

# Alerts the bundle must define; any other alert in the rule files is checked alike.
REQUIRED_ALERTS = {
    "BudgetWarning",
    "BudgetExceeded",
    "BudgetForecastOverrun",
    "CreditBalanceLow",
    "CostCollectorFailing",
    "CostDataStale",
    "CostExporterDown",
    "CostExporterAbsent",
    "DailySpendHigh",
    "AppBudgetWarning",
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> Iterator[dict[str, Any]]:
    for path in RULE_FILES:
        for group in load(path)["groups"]:
            yield from group["rules"]


def alerting_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def alert_names() -> set[str]:
    return {rule["alert"] for rule in alerting_rules()}


def run(*argv: str, stdin: str | None = None) -> str:
    """Run a checker from the repository root; fail with its output unless it exits 0."""
    result = subprocess.run(
        argv, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{output}"
    return output


def relative(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


# --- the official checkers ----------------------------------------------------------


def test_prometheus_config_and_the_rules_it_loads_pass_promtool_check_config() -> None:
    output = run(require(PROMTOOL), "check", "config", str(PROMETHEUS_YML.relative_to(ROOT)))
    assert f"{len(RULE_FILES)} rule files found" in output


def test_rule_files_pass_promtool_check_rules_without_duplicates() -> None:
    output = run(require(PROMTOOL), "check", "rules", *relative(RULE_FILES))
    assert "duplicate" not in output.lower(), output


def test_rule_unit_tests_pass_promtool_test_rules() -> None:
    assert RULE_TESTS, "no promtool test files in prometheus/tests/"
    output = run(require(PROMTOOL), "test", "rules", *relative(RULE_TESTS))
    assert output.count("SUCCESS") == len(RULE_TESTS), output


def test_alertmanager_config_passes_amtool_check_config() -> None:
    output = run(require(AMTOOL), "check-config", str(ALERTMANAGER_YML.relative_to(ROOT)))
    assert "SUCCESS" in output


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=BudgetExceeded", "severity=critical", "provider=ovh"], "email,costs"),
        (["alertname=BudgetWarning", "severity=warning", "provider=vercel"], "costs"),
        (["alertname=Other"], "costs"),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str) -> None:
    run(
        require(AMTOOL),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_YML.relative_to(ROOT)}",
        f"--verify.receivers={receiver}",
        *labels,
    )


async def test_the_exporters_metrics_pass_promtool_check_metrics(tmp_path: Path) -> None:
    """Render /metrics in-process from the example config (fixed bills, budgets, limits)."""
    promtool = require(PROMTOOL)
    settings = load_exporter_settings({"COST_STATE_DIR": str(tmp_path)})
    config = load_config({}, EXAMPLE_CONFIG, env_specs())
    http = HttpClient()
    try:
        refresher = Refresher(settings, config, http, persist=False)
        result = await refresher.refresh()
    finally:
        await http.aclose()
    assert all(outcome.ok for outcome in result.accounts)
    text = refresher.rendered.text.decode()
    for family in (catalog.MONTH_TO_DATE, catalog.BUDGET, catalog.USAGE_LIMIT):
        assert f"\n{family.exposed_name}{{" in text
    run(promtool, "check", "metrics", stdin=text)


def test_the_golden_metrics_pass_promtool_check_metrics() -> None:
    assert GOLDEN_METRICS.exists(), "tests/golden/metrics.txt is committed with the tests"
    run(require(PROMTOOL), "check", "metrics", stdin=GOLDEN_METRICS.read_text(encoding="utf-8"))


# --- the bundle's own promises ------------------------------------------------------


def test_every_required_alert_is_defined() -> None:
    assert alert_names() >= REQUIRED_ALERTS


def test_every_alert_has_a_severity_summary_description_and_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.M)
    }
    for rule in alerting_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        annotations = rule["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        url = annotations["runbook_url"]
        assert url == f"{RUNBOOK_URL}#{name.lower()}", name
        assert name.lower() in anchors, f"docs/runbook.md has no section '## {name}'"
    assert "set-your-caps" in anchors


def test_every_alert_has_promtool_tests_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for group in load(path)["tests"]:
            assert group.get("interval"), f"{path.name}: {group['name']}: set interval (2.42)"
            for case in group.get("alert_rule_test", ()):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert firing == alert_names()
    assert quiet == alert_names()


def test_rules_only_query_metrics_the_exporter_publishes() -> None:
    published = {family.exposed_name for family in catalog.ALL}
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        text = " ".join([rule["expr"], *(rule.get("annotations") or {}).values()])
        for name in re.findall(r"(?<![\w:])cost_\w+", text):
            assert name in published, f"{rule.get('alert') or rule['record']}: {name}"
        for name in re.findall(r"\b\w+:\w+:\w+\b", text):
            assert name in recorded, f"{rule.get('alert') or rule['record']}: {name}"


def matches(matcher: str, alertname: str) -> bool:
    """Whether an Alertmanager matcher string can match an alert of this name."""
    parsed = re.fullmatch(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*', matcher)
    assert parsed, f"cannot read matcher {matcher!r}"
    label, op, value = parsed.groups()
    if label != "alertname":
        return True  # a matcher on another label does not exclude the alert name
    return {
        "=": value == alertname,
        "!=": value != alertname,
        "=~": re.fullmatch(value, alertname) is not None,
        "!~": re.fullmatch(value, alertname) is None,
    }[op]


def inhibitions() -> list[tuple[set[str], set[str], list[str]]]:
    """(source alert names, target alert names, equal) of every inhibit rule."""
    found = []
    alerts = alert_names()
    for rule in load(ALERTMANAGER_YML).get("inhibit_rules", ()):
        assert "source_match" not in rule and "target_match" not in rule, "use *_matchers"
        sources = {a for a in alerts if all(matches(m, a) for m in rule["source_matchers"])}
        targets = {a for a in alerts if all(matches(m, a) for m in rule["target_matchers"])}
        found.append((sources, targets, rule.get("equal", [])))
    return found


def test_no_inhibit_rule_can_silence_budget_warning() -> None:
    for sources, targets, _ in inhibitions():
        assert "BudgetWarning" not in targets
        assert sources and targets, "an inhibit rule names an alert that does not exist"


def test_alertmanager_inhibits_what_decisions_md_settles() -> None:
    pairs = {(s, t) for sources, targets, _ in inhibitions() for s in sources for t in targets}
    assert ("BudgetExceeded", "BudgetForecastOverrun") in pairs
    for source in ("CostExporterDown", "CostExporterAbsent"):
        for target in ("CostCollectorFailing", "CostDataStale"):
            assert (source, target) in pairs
    assert {t for _, t in pairs} == {
        "BudgetForecastOverrun",
        "CostCollectorFailing",
        "CostDataStale",
    }


def test_alertmanager_groups_by_provider_and_reads_secrets_from_files() -> None:
    config = load(ALERTMANAGER_YML)
    assert config["route"]["group_by"] == ["provider", "account"]
    assert config["route"]["repeat_interval"] == "24h"
    text = ALERTMANAGER_YML.read_text(encoding="utf-8")
    for plain in ("smtp_auth_password:", "slack_api_url:", "api_url:", "auth_password:"):
        assert not re.search(rf"^\s*{plain}", text, re.M), f"{plain} is a secret: use *_file"
    settings = config["global"]
    assert settings["smtp_auth_password_file"] and settings["slack_api_url_file"]
    kinds = {kind for receiver in config["receivers"] for kind in receiver if kind != "name"}
    assert {"webhook_configs", "email_configs", "slack_configs"} <= kinds


def test_prometheus_scrapes_the_exporter_every_minute_and_loads_the_rules() -> None:
    config = load(PROMETHEUS_YML)
    assert config["global"]["scrape_interval"] == "60s"
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "cost-exporter"]
    assert job["static_configs"] == [{"targets": ["cost-exporter:9210"]}]
    [manager] = config["alerting"]["alertmanagers"]
    assert manager["api_version"] == "v2"
    assert manager["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    loaded = {path for pattern in config["rule_files"] for path in PROMETHEUS.glob(pattern)}
    assert loaded == set(RULE_FILES)
    text = PROMETHEUS_YML.read_text(encoding="utf-8")
    assert "--storage.tsdb.retention.time=400d" in text
    assert "Supabase per-project metrics" in text
