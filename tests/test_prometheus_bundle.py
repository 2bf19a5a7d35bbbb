"""The Prometheus/Alertmanager bundle passes the official checkers and keeps its promises.

With the binaries (Debian `prometheus`, `prometheus-alertmanager`): `promtool
check config/rules/metrics`, `promtool test rules` and `amtool check-config`
/ `config routes test`. They skip without the binaries, and fail instead when
`CI` is set (tests/e2e/binaries.py).

Without binaries: every alert has its labels, annotations and runbook
section; the rules only query metrics the exporter publishes; every `sum` in
the rules and the dashboard counts a figure once however many replicas report
it (checked on a parse of the PromQL); Alertmanager never inhibits
BudgetWarning and reads its secrets from files.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cost_exporter import catalog
from cost_exporter.http_client import HttpClient
from cost_exporter.providers import env_specs
from cost_exporter.refresher import Refresher
from cost_exporter.settings import load_config, load_exporter_settings
from tests.dashboard_panels import all_panels, committed_dashboard
from tests.e2e.binaries import AMTOOL, PROMTOOL, require
from tests.runbook import RUNBOOK_URL, runbook_anchors

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "prometheus"
PROMETHEUS_YML = PROMETHEUS / "prometheus.yml"
ALERTMANAGER_YML = PROMETHEUS / "alertmanager.yml"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
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
    "AIPriceTableStale",
    "AIUnpricedTokens",
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
    anchors = runbook_anchors()
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


WARNING_THRESHOLD = re.compile(
    r"max by \((?P<by>[\w, ]+)\) \(\s*(?P<cap>cost_\w+) \* ignoring \((?P<ignoring>[\w, ]+)\)"
    r" group_left \(\) cost_budget_warning_ratio\s*\)"
)


def label_set(text: str) -> set[str]:
    return {label.strip() for label in text.split(",")}


def test_the_warning_ratio_is_applied_per_target_before_the_max() -> None:
    """cost_budget_warning_ratio has no labels of its own: scraped, it carries only target
    labels. Each cap is multiplied by the ratio of its own target (ignoring the cap's own
    labels), then max'ed by those labels; the warnings compare with these records only."""
    records = {}
    for rule in rules():
        if "cost_budget_warning_ratio" in rule["expr"]:
            match = WARNING_THRESHOLD.fullmatch(rule["expr"].strip())
            assert match, f"{rule.get('record') or rule.get('alert')}: {rule['expr']}"
            own = set(FAMILIES[match["cap"]].labels)
            assert label_set(match["by"]) == label_set(match["ignoring"]) == own
            records[match["cap"]] = rule["record"]
        assert "scalar(" not in rule["expr"], "scalar() is NaN with two replicas"
    caps = (catalog.BUDGET, catalog.USAGE_LIMIT, catalog.APP_BUDGET)
    assert set(records) == {family.exposed_name for family in caps}
    warnings = [r for r in alerting_rules() if r["alert"] in ("BudgetWarning", "AppBudgetWarning")]
    assert len(warnings) == 3
    for rule in warnings:
        assert any(record in rule["expr"] for record in records.values()), rule["expr"]
        annotations = " ".join(rule["annotations"].values())
        assert '{{ with query "max(cost_budget_warning_ratio)" }}' in annotations


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


def test_alertmanager_inhibits_the_overrun_under_exceeded_and_health_under_exporter_down() -> None:
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


# --- replicas: a sum counts each figure once ------------------------------------------
#
# Two exporter replicas (or an HA pair of Prometheus servers) hold every figure twice,
# under target labels that vary (instance; pod, namespace, ... from a ServiceMonitor;
# replica from an HA pair). A sum over a family is only right after `max by` exactly the
# family's own labels: fewer merges distinct figures, a target label keeps the copies apart.

FAMILIES = {family.exposed_name: family for family in catalog.ALL}
# Health stays per target: each replica is a collector with its own failures.
HEALTH = {family.exposed_name for family in (*catalog.COLLECTOR_HEALTH, catalog.DATA_STALE_AFTER)}

TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-z]*)
    | (?P<name>[A-Za-z_:][\w:]*)
    | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){},@])
    )""",
    re.X,
)
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile",
}  # fmt: skip
# Binary operators from the loosest to the tightest.
BINARY = [("or",), ("and", "unless"), ("==", "!=", ">", "<", ">=", "<="), ("+", "-"),
          ("*", "/", "%", "atan2"), ("^",)]  # fmt: skip


@dataclass(frozen=True)
class Node:
    """One node of a PromQL expression: a selector, aggregation, call, binary op or literal."""

    kind: str
    name: str = ""
    labels: tuple[str, ...] = ()
    without: bool = False
    args: tuple[Node, ...] = ()


class PromQL:
    """A recursive-descent parser of the PromQL in the rules and the dashboard.

    It knows selectors, ranges, offsets, functions, aggregations (grouping before or after
    the arguments) and binary operators with their modifiers, and raises ValueError on
    anything else, so a query it cannot read fails the test instead of passing unchecked.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while text[pos:].strip():
            match = TOKEN.match(text, pos)
            if not match:
                raise ValueError(f"cannot read {text[pos:]!r} in {text!r}")
            kind = match.lastgroup
            assert kind
            self.tokens.append((kind, match[kind]))
            pos = match.end()
        self.pos = 0

    def parse(self) -> Node:
        node = self.binary(0)
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r} in {self.text!r}")
        return node

    def peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos == len(self.tokens) or expected not in (None, self.peek()):
            raise ValueError(f"expected {expected or 'more'} at {self.peek()!r} in {self.text!r}")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def label_list(self) -> tuple[str, ...]:
        self.take("(")
        labels = []
        while self.peek() != ")":
            kind, label = self.take()
            if kind != "name":
                raise ValueError(f"{label!r} is not a label name in {self.text!r}")
            labels.append(label)
            if self.peek() != ")":
                self.take(",")
        self.take(")")
        return tuple(labels)

    def binary(self, level: int) -> Node:
        if level == len(BINARY):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek() in BINARY[level]:
            _, op = self.take()
            if self.peek() == "bool":
                self.take()
            if self.peek() in ("on", "ignoring"):
                self.take()
                self.label_list()
            if self.peek() in ("group_left", "group_right"):
                self.take()
                if self.peek() == "(":
                    self.label_list()
            node = Node("binary", op, args=(node, self.binary(level + 1)))
        return node

    def unary(self) -> Node:
        if self.peek() in ("-", "+"):
            _, op = self.take()
            return Node("binary", op, args=(self.unary(),))
        node = self.primary()
        while True:  # postfix: range or subquery, offset, @
            if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "range":
                self.take()
            elif self.peek() in ("offset", "@"):
                self.take()
                if self.peek() == "-":
                    self.take()
                self.take()
            else:
                return node

    def primary(self) -> Node:
        kind, value = self.take()
        if value == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if kind in ("string", "number"):
            return Node("literal", value)
        if value == "{":
            self.pos -= 1
            self.matchers()
            return Node("selector")
        if kind != "name":
            raise ValueError(f"unexpected {value!r} in {self.text!r}")
        if value in AGGREGATIONS:
            return self.aggregation(value)
        if self.peek() == "(":
            return Node("call", value, args=self.arguments())
        if self.peek() == "{":
            self.matchers()
        return Node("selector", value)

    def aggregation(self, op: str) -> Node:
        without, labels = False, ()
        if self.peek() in ("by", "without"):
            without = self.take()[1] == "without"
            labels = self.label_list()
        args = self.arguments()
        if self.peek() in ("by", "without") and not labels:
            without = self.take()[1] == "without"
            labels = self.label_list()
        return Node("aggregate", op, labels, without, args)

    def arguments(self) -> tuple[Node, ...]:
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.binary(0))
            if self.peek() != ")":
                self.take(",")
        self.take(")")
        return tuple(args)

    def matchers(self) -> None:
        self.take("{")
        while self.peek() != "}":
            label, (_, op), (kind, _) = self.take()[1], self.take(), self.take()
            if op not in ("=", "!=", "=~", "!~") or kind != "string":
                raise ValueError(f"bad matcher on {label!r} in {self.text!r}")
            if self.peek() != "}":
                self.take(",")
        self.take("}")


def counts_once(family: str, labels: tuple[str, ...]) -> bool:
    """Whether `max by (labels)` leaves exactly one series per figure of the family."""
    return set(labels) == set(FAMILIES[family].labels)


def per_scrape(node: Node) -> set[str]:
    """Catalog families whose series reach this node one per scrape, not yet counted once."""
    if node.kind == "selector":
        return {node.name} & FAMILIES.keys()
    below: set[str] = set().union(*(per_scrape(arg) for arg in node.args))
    if node.kind == "aggregate" and node.name == "max" and not node.without:
        return {family for family in below if not counts_once(family, node.labels)}
    return below


def summed(node: Node) -> set[str]:
    """Catalog families read under a sum anywhere in the tree."""
    below: set[str] = set().union(*(summed(arg) for arg in node.args))
    if node.kind == "aggregate" and node.name == "sum":
        return below | reads(node)
    return below


def reads(node: Node) -> set[str]:
    if node.kind == "selector":
        return {node.name} & FAMILIES.keys()
    return set().union(*(reads(arg) for arg in node.args))


def replica_unsafe_sums(expr: str) -> list[str]:
    """Every sum in `expr` that a second replica would double, with the reason."""
    problems = []

    def visit(node: Node) -> None:
        for arg in node.args:
            visit(arg)
        if node.kind != "aggregate" or node.name != "sum":
            return
        for family in sorted(per_scrape(node.args[-1])):
            own = FAMILIES[family].labels
            if family in HEALTH:
                if not node.without or not set(node.labels) <= set(own):
                    problems.append(f"sum over {family} must stay per target: sum without (...)")
            else:
                labels = ", ".join(own)
                problems.append(f"sum over {family} needs max by ({labels}) first")

    visit(PromQL(expr).parse())
    return problems


def rule_exprs() -> list[tuple[str, str]]:
    return [(str(rule.get("alert") or rule["record"]), rule["expr"]) for rule in rules()]


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"dashboard {panel['title']} [{target['refId']}]", target["expr"])
        for panel in all_panels(committed_dashboard())
        for target in panel.get("targets", ())
    ]


def test_every_sum_in_the_rules_and_dashboard_counts_a_figure_once_per_replica() -> None:
    exprs = rule_exprs() + dashboard_exprs()
    problems = [f"{where}: {problem}" for where, e in exprs for problem in replica_unsafe_sums(e)]
    assert not problems, "\n".join(problems)
    # The check saw what it guards: the sums over spend in both places.
    spend = {catalog.MONTH_TO_DATE, catalog.FORECAST_MONTH_END, catalog.ALLOCATED_MONTH_TO_DATE}
    in_rules = set().union(*(summed(PromQL(e).parse()) for _, e in rule_exprs()))
    in_board = set().union(*(summed(PromQL(e).parse()) for _, e in dashboard_exprs()))
    assert in_rules >= {family.exposed_name for family in spend}
    assert in_board >= {family.exposed_name for family in (*spend, catalog.LAST_DAY)}


@pytest.mark.parametrize(
    "expr",
    [
        "sum by (provider, account, currency) (cost_month_to_date)",
        "sum(max without (instance) (cost_month_to_date))",
        # Too few labels merges distinct services into their max.
        "sum(max by (provider, account, currency) (cost_month_to_date))",
        # A target label keeps two replicas apart.
        "sum(max by (provider, account, service_name, currency, source, charge_frequency, pod)"
        " (cost_month_to_date))",
        'sum by (provider) (last_over_time(cost_previous_month{provider=~"$provider"}[1d]))',
        "sum(max by (provider, account, currency) (cost_forecast_month_end)) / sum(cost_budget)",
        "0.8 * max by (app, currency) (cost_app_budget)"
        " < on (app, currency) sum(cost_allocated_month_to_date) by (app, currency)",
        "sum by (provider, account) (cost_collector_errors_total)",
    ],
)
def test_the_replica_check_catches_a_sum_a_second_replica_would_double(expr: str) -> None:
    assert replica_unsafe_sums(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "sum by (provider) (max by (provider, account, service_name, currency, source,"
        ' charge_frequency) (last_over_time(cost_month_to_date{provider=~"$provider"}[1d])))',
        "sum by (provider, currency) (provider_account:cost_month_to_date:sum)",
        "max by (provider, account, currency) (cost_last_day)"
        " > on (provider, account, currency) max by (provider, account, currency) (cost_budget)",
        "sum without (reason) (cost_collector_errors_total)",
        "(sum(max by (provider, account, currency) (cost_forecast_month_end)) > 1)"
        " and on () (day_of_month() >= 4)",
    ],
)
def test_the_replica_check_passes_a_sum_over_max_by_the_familys_labels(expr: str) -> None:
    assert replica_unsafe_sums(expr) == []


@pytest.mark.parametrize(
    "expr", ["sum(cost_month_to_date", "sum by provider (cost_month_to_date)", "cost_budget{a=1}"]
)
def test_the_replica_check_refuses_promql_it_cannot_read(expr: str) -> None:
    with pytest.raises(ValueError):
        replica_unsafe_sums(expr)
