"""Generate the Grafana "Costs" dashboard: `.venv/bin/python grafana/dashboard.py > grafana/dashboards/costs.json`.

The JSON is committed; a test regenerates it and fails when the two drift. Queries use the
exporter's own series (no recording rules), so the dashboard also works on a Prometheus that
does not load this project's rules. Long-range panels wrap series in `last_over_time(...[1d])`
so daily backfilled samples and live ones both show. Every figure is summed through `once()`,
so two exporter replicas or an HA pair of Prometheus servers never double a total.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from cost_exporter import catalog
from cost_exporter.catalog import Family

UID = "cost-exporter-costs"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def repository_base() -> str:
    """Where the repository's files are served: the base of the alerts' runbook_url, which
    `make rules RUNBOOK_BASE=...` writes into the rules (prometheus/runbook.py)."""
    path = Path(__file__).resolve().parent.parent / "prometheus" / "runbook.py"
    spec = importlib.util.spec_from_file_location("runbook", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.base())


BASE = repository_base()
RUNBOOK = f"{BASE}/docs/runbook.md"
RULES_HELP = f"{BASE}/README.md#attribute-costs-to-apps"
SEL = 'provider=~"$provider",account=~"$account"'
AI_SEL = f'{SEL},model=~"$model"'
# The allocated families have no account label: apps cut across accounts.
APP_SEL = 'provider=~"$provider",app=~"$app"'


def once(family: Family, selector: str = "", over: str = "") -> str:
    """Each figure of `family` once, however many scrapes of it Prometheus holds.

    Two exporter replicas, a ServiceMonitor (pod, namespace, ...) or an HA pair (replica)
    report a figure under different target labels; `max by` the family's own labels drops
    them all, so a `sum` around this never doubles. `max without (instance)` would not: the
    other target labels still tell the copies apart. `over` takes the last sample in that
    window, so daily backfilled samples show too.
    """
    labels = list(family.labels)
    series = f"{family.exposed_name}{{{selector}}}" if selector else family.exposed_name
    if over:
        series = f"last_over_time({series}[{over}])"
    return f"max by ({', '.join(labels)}) ({series})"


def money_unit(currency: str) -> str:
    return f"currency{currency}"


class Layout:
    """Places panels left to right on the 24-column grid, wrapping rows."""

    def __init__(self) -> None:
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def place(self, width: int, height: int) -> dict[str, int]:
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.row_height = max(self.row_height, height)
        return pos

    def new_row(self) -> None:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0

    def panel_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def target(
    ref: str, expr: str, legend: str = "", instant: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        **extra,
    }


def panel(
    layout: Layout,
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    unit: str,
    width: int,
    height: int,
    **options: Any,
) -> dict[str, Any]:
    field_config: dict[str, Any] = {"defaults": {"unit": unit}, "overrides": []}
    field_config["defaults"].update(options.pop("defaults", {}))
    field_config["overrides"] = options.pop("overrides", [])
    return {
        "id": layout.panel_id(),
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": layout.place(width, height),
        "targets": targets,
        "fieldConfig": field_config,
        **options,
    }


def row(layout: Layout, title: str) -> dict[str, Any]:
    layout.new_row()
    return {
        "id": layout.panel_id(),
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": layout.place(24, 1),
        "panels": [],
    }


def thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for color, value in steps],
        }
    }


# Red from a cap's full use: the panels below replace it with the exporter's warning ratio
# (`warning_below()`), and only a Prometheus without cost_budget_warning_ratio shows this.
UTILISATION = thresholds(("green", None), ("red", 1.0))
WARNING_REF = "W"
WARNING_LEGEND = "warning ratio"


def warning_target() -> dict[str, Any]:
    """The exporter's `warning_ratio` as a query: BudgetWarning's threshold, from the metric."""
    return target(WARNING_REF, f"max({catalog.WARNING_RATIO.exposed_name})", WARNING_LEGEND)


def threshold_from(config_ref: str, legend: str, ref: str = "A") -> dict[str, Any]:
    """Grafana's "Config from query results": the value of query `config_ref` becomes a
    threshold of query `ref` (green below it, red from it: Grafana colours a step taken
    from data red), and the config query itself is not drawn."""
    return {
        "id": "configFromData",
        "options": {
            "configRefId": config_ref,
            "mappings": [
                {"fieldName": legend, "handlerKey": "threshold1", "reducerId": "lastNotNull"}
            ],
            "applyTo": {"id": "byFrameRefID", "options": ref},
        },
    }


def warning_below(ref: str = "A") -> list[dict[str, Any]]:
    """The warning ratio as the threshold of query `ref`: it lives in the exporter's
    config, never here."""
    return [threshold_from(WARNING_REF, WARNING_LEGEND, ref)]


TABLE_SORTED = {"options": {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]}}


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def overview(layout: Layout, unit: str) -> list[dict[str, Any]]:
    return [
        row(layout, "This month"),
        panel(
            layout,
            "stat",
            "Spent this month",
            "Month-to-date spend of every selected provider, with the whole previous month "
            "for comparison. Providers report up to yesterday; fixed bills count in full.",
            [
                target("A", f"sum({once(catalog.MONTH_TO_DATE, SEL)})", "this month"),
                target("B", f"sum({once(catalog.PREVIOUS_MONTH, SEL)})", "previous month"),
            ],
            unit,
            6,
            5,
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "value_and_name"},
        ),
        panel(
            layout,
            "stat",
            "Forecast vs previous month",
            "Month-end forecast (run-rate over completed days plus fixed bills) relative to "
            "the previous month's total: +10% means this month is heading 10% higher.",
            [
                target(
                    "A",
                    f"sum({once(catalog.FORECAST_MONTH_END, SEL)}) / "
                    f"sum({once(catalog.PREVIOUS_MONTH, SEL)}) - 1",
                    "change",
                )
            ],
            "percentunit",
            6,
            5,
            defaults=thresholds(("green", None), ("orange", 0.1), ("red", 0.5)),
        ),
        panel(
            layout,
            "bargauge",
            "Forecast vs total budget",
            "Month-end forecast against the sum of configured budgets (absolute caps from the "
            "config file).",
            [
                target("A", f"sum({once(catalog.FORECAST_MONTH_END, SEL)})", "forecast"),
                target("B", f"sum({once(catalog.BUDGET, SEL)})", "budget"),
            ],
            unit,
            6,
            5,
            options={"orientation": "horizontal", "displayMode": "gradient"},
        ),
        panel(
            layout,
            "stat",
            "Saved by prompt caching",
            "Estimated saving this month: cache-read tokens x (input price - cache-read "
            "price), from the exporter's shipped price table.",
            [target("A", f"sum({once(catalog.AI_CACHE_SAVINGS, SEL)})", "saved")],
            unit,
            6,
            5,
            defaults=thresholds(("green", None)),
        ),
        panel(
            layout,
            "piechart",
            "Spend by provider",
            "Month-to-date spend per provider. Click a slice to filter the dashboard.",
            [
                target(
                    "A", f"sum by (provider) ({once(catalog.MONTH_TO_DATE, SEL)})", "{{provider}}"
                )
            ],
            unit,
            8,
            9,
            options={
                "pieType": "donut",
                "legend": {"displayMode": "table", "placement": "right", "values": ["value"]},
            },
            defaults={
                "links": [
                    {
                        "title": "Filter by ${__field.labels.provider}",
                        "url": f"/d/{UID}/costs?var-provider=${{__field.labels.provider}}"
                        "&${__url_time_range}",
                    }
                ]
            },
        ),
        panel(
            layout,
            "bargauge",
            "Budget used per provider",
            "Month-to-date spend divided by the provider's configured monthly budget. Red "
            "above the exporter's warning_ratio (cost_budget_warning_ratio), where "
            "BudgetWarning fires; BudgetExceeded fires above 100%.",
            [
                target(
                    "A",
                    f"sum by (provider, account) ({once(catalog.MONTH_TO_DATE, SEL)}) / on "
                    f"(provider, account) sum by (provider, account) "
                    f"({once(catalog.BUDGET, SEL)})",
                    "{{provider}}/{{account}}",
                ),
                warning_target(),
            ],
            "percentunit",
            8,
            9,
            defaults={**UTILISATION, "min": 0, "max": 1.2},
            options={"orientation": "horizontal", "displayMode": "gradient"},
            transformations=warning_below(),
        ),
        panel(
            layout,
            "bargauge",
            "Usage limits used",
            "Usage this month divided by its configured limit (e.g. Vercel function "
            "invocations against the free tier). Red above the exporter's warning_ratio, "
            "where BudgetWarning fires.",
            [
                target(
                    "A",
                    f"{once(catalog.USAGE, SEL)} / on (provider, account, metric) "
                    f"{once(catalog.USAGE_LIMIT, SEL)}",
                    "{{provider}} {{metric}}",
                ),
                warning_target(),
            ],
            "percentunit",
            8,
            9,
            defaults={**UTILISATION, "min": 0, "max": 1.2},
            options={"orientation": "horizontal", "displayMode": "gradient"},
            transformations=warning_below(),
        ),
    ]


def by_app(layout: Layout, unit: str) -> list[dict[str, Any]]:
    allocated = once(catalog.ALLOCATED_MONTH_TO_DATE, APP_SEL)
    apps = 'app=~"$app"'
    unallocated = 'app="unallocated",provider=~"$provider"'
    return [
        row(layout, "By app"),
        panel(
            layout,
            "bargauge",
            "Spend per app this month",
            "Month-to-date spend attributed to each app by the attribution rules of the "
            "exporter's config, over every selected provider. Per provider it adds up to the "
            "provider's month to date; what no rule matches is the app 'unallocated'.",
            [target("A", f"sum by (app) ({allocated})", "{{app}}")],
            unit,
            8,
            9,
            options={"orientation": "horizontal", "displayMode": "gradient"},
        ),
        panel(
            layout,
            "bargauge",
            "Budget used per app",
            "Each app's month-to-date spend over all providers divided by its budget "
            "(attribution.app_budgets); apps without a budget are not shown. Red above the "
            "exporter's warning_ratio, where AppBudgetWarning fires.",
            [
                target(
                    "A",
                    f"sum by (app) ({once(catalog.ALLOCATED_MONTH_TO_DATE, apps)}) / on (app) "
                    f"sum by (app) ({once(catalog.APP_BUDGET, apps)})",
                    "{{app}}",
                ),
                warning_target(),
            ],
            "percentunit",
            8,
            9,
            defaults={**UTILISATION, "min": 0, "max": 1.2},
            options={"orientation": "horizontal", "displayMode": "gradient"},
            transformations=warning_below(),
            links=[{"title": "Runbook", "url": f"{RUNBOOK}#appbudgetwarning", "targetBlank": True}],
        ),
        panel(
            layout,
            "stat",
            "Unallocated this month",
            "Month-to-date spend no attribution rule matches. `cost-exporter attribution` "
            "lists the largest unallocated items with the match of a rule for each; the link "
            "explains how to write rules.",
            [
                target(
                    "A",
                    f"sum({once(catalog.ALLOCATED_MONTH_TO_DATE, unallocated)})",
                    "unallocated",
                )
            ],
            unit,
            8,
            9,
            defaults=thresholds(("green", None), ("orange", 0.01)),
            links=[
                {"title": "How to write attribution rules", "url": RULES_HELP, "targetBlank": True}
            ],
        ),
        panel(
            layout,
            "table",
            "Spend by app and provider",
            "Month-to-date spend per app (rows) and provider (columns).",
            [target("A", f"sum by (app, provider) ({allocated})", format="table")],
            unit,
            12,
            9,
            transformations=[
                {
                    "id": "groupingToMatrix",
                    "options": {
                        "columnField": "provider",
                        "rowField": "app",
                        "valueField": "Value",
                    },
                }
            ],
        ),
        panel(
            layout,
            "timeseries",
            "Monthly totals per app, last 12 months",
            "Each month's final total per app, as attributed by the rules in force when it "
            "was reported (the previous-month figure during the following month).",
            [
                target(
                    "A",
                    f"sum by (app) ({once(catalog.ALLOCATED_PREVIOUS_MONTH, APP_SEL, '1d')})",
                    "{{app}}",
                    instant=False,
                    interval="1d",
                )
            ],
            unit,
            12,
            9,
            timeFrom="1y",
            interval="1d",
            defaults={
                "custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}
            },
        ),
    ]


def trends(layout: Layout, unit: str) -> list[dict[str, Any]]:
    daily = {"interval": "1d"}
    return [
        row(layout, "Trends"),
        panel(
            layout,
            "timeseries",
            "Month-to-date spend, last 30 days",
            "Month-to-date spend per provider, one point a day; it restarts from zero on "
            "the 1st of each month.",
            [
                target(
                    "A",
                    f"sum by (provider) ({once(catalog.MONTH_TO_DATE, SEL, '1d')})",
                    "{{provider}}",
                    instant=False,
                    **daily,
                )
            ],
            unit,
            12,
            8,
            timeFrom="30d",
            interval="1d",
            defaults={
                "custom": {"drawStyle": "line", "fillOpacity": 10, "stacking": {"mode": "normal"}}
            },
        ),
        panel(
            layout,
            "timeseries",
            "Monthly totals, last 12 months",
            "Each month's final total per provider: the previous-month figure as reported "
            "during the following month.",
            [
                target(
                    "A",
                    f"sum by (provider) ({once(catalog.PREVIOUS_MONTH, SEL, '1d')})",
                    "{{provider}}",
                    instant=False,
                    **daily,
                )
            ],
            unit,
            12,
            8,
            timeFrom="1y",
            interval="1d",
            defaults={
                "custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}
            },
        ),
        panel(
            layout,
            "table",
            "Spend by service",
            "Month-to-date spend per provider and service (FOCUS ServiceName), largest first.",
            [
                target(
                    "A",
                    f"sum by (provider, service_name) ({once(catalog.MONTH_TO_DATE, SEL)})",
                    format="table",
                )
            ],
            unit,
            9,
            9,
            transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
            **TABLE_SORTED,
        ),
        panel(
            layout,
            "piechart",
            "Spend by confidence",
            "How each figure is known: api (reported by the provider), estimated (usage x a "
            "price table), manual (fixed bills from the config).",
            [target("A", f"sum by (source) ({once(catalog.MONTH_TO_DATE, SEL)})", "{{source}}")],
            unit,
            5,
            9,
            options={"pieType": "pie"},
        ),
        panel(
            layout,
            "bargauge",
            "Spend by charge type",
            "Month-to-date spend by how it is charged (FOCUS ChargeFrequency): usage-based "
            "(metered use), recurring (subscriptions and fixed monthly bills) or one-time "
            "(single purchases and other one-off charges). Bars, not a pie: credits can make a "
            "type negative.",
            [
                target(
                    "A",
                    f"sum by (charge_frequency) ({once(catalog.MONTH_TO_DATE, SEL)})",
                    "{{charge_frequency}}",
                )
            ],
            unit,
            5,
            9,
            options={"orientation": "horizontal", "displayMode": "basic"},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": value},
                    "properties": [{"id": "displayName", "value": name}],
                }
                for value, name in (("usage_based", "usage-based"), ("one_time", "one-time"))
            ],
        ),
        panel(
            layout,
            "stat",
            "Prepaid credit left",
            "Remaining prepaid balance at providers that sell credits (e.g. OpenRouter).",
            [target("A", once(catalog.CREDIT_BALANCE, SEL), "{{provider}}/{{account}}")],
            unit,
            5,
            9,
            defaults=thresholds(("red", None), ("orange", 5), ("green", 20)),
        ),
    ]


def daily_burn(layout: Layout, unit: str) -> list[dict[str, Any]]:
    return [
        row(layout, "Daily burn"),
        panel(
            layout,
            "stat",
            "Yesterday per provider, next to its daily cap",
            "Spend of the last complete UTC day per provider (a leaked key or a runaway agent "
            "shows here within a day), and the daily cap from the config where one is set. "
            "DailySpendHigh fires when a day goes over its cap.",
            [
                target(
                    "A",
                    f"sum by (provider) ({once(catalog.LAST_DAY, SEL)})",
                    "{{provider}} yesterday",
                ),
                target(
                    "B",
                    f"sum by (provider) ({once(catalog.DAILY_BUDGET, SEL)})",
                    "{{provider}} daily cap",
                ),
            ],
            unit,
            24,
            5,
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "value_and_name"},
            links=[{"title": "Runbook", "url": f"{RUNBOOK}#dailyspendhigh", "targetBlank": True}],
        ),
    ]


def ai(layout: Layout, unit: str) -> list[dict[str, Any]]:
    table = {
        "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        **TABLE_SORTED,
    }
    return [
        row(layout, "AI"),
        panel(
            layout,
            "table",
            "AI spend by model",
            "Month-to-date AI spend per model; `source` says whether the provider reported it "
            "or it was estimated from tokens.",
            [
                target(
                    "A",
                    f"sum by (provider, model, source) ({once(catalog.AI_SPEND_BY_MODEL, AI_SEL)})",
                    format="table",
                )
            ],
            unit,
            8,
            9,
            **table,
        ),
        panel(
            layout,
            "table",
            "AI spend by project",
            "Month-to-date AI spend per project or workspace (top N, the rest as 'other').",
            [
                target(
                    "A",
                    f"sum by (provider, project) ({once(catalog.AI_SPEND_BY_PROJECT, SEL)})",
                    format="table",
                )
            ],
            unit,
            8,
            9,
            **table,
        ),
        panel(
            layout,
            "table",
            "AI spend by API key",
            "Month-to-date AI spend per API key (top N, the rest as 'other'): a leaked key "
            "shows up here.",
            [
                target(
                    "A",
                    "sum by (provider, api_key, source) "
                    f"({once(catalog.AI_SPEND_BY_API_KEY, SEL)})",
                    format="table",
                )
            ],
            unit,
            8,
            9,
            **table,
        ),
        panel(
            layout,
            "barchart",
            "Tokens by model and type",
            "Tokens this month; input is uncached input, so the types add up to the total.",
            [
                target(
                    "A",
                    f"sum by (model, token_type) ({once(catalog.AI_TOKENS, AI_SEL)})",
                    format="table",
                )
            ],
            "short",
            16,
            9,
            options={"stacking": "normal", "xField": "model", "orientation": "horizontal"},
            transformations=[
                {
                    "id": "groupingToMatrix",
                    "options": {
                        "columnField": "token_type",
                        "rowField": "model",
                        "valueField": "Value",
                    },
                }
            ],
        ),
        panel(
            layout,
            "table",
            "Requests by model",
            "Model requests this month.",
            [
                target(
                    "A",
                    f"sum by (provider, model) ({once(catalog.AI_REQUESTS, AI_SEL)})",
                    format="table",
                )
            ],
            "short",
            8,
            9,
            **table,
        ),
    ]


def ai_gateway(layout: Layout, unit: str) -> list[dict[str, Any]]:
    table = {
        "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        **TABLE_SORTED,
    }
    return [
        row(layout, "By feature (Cloudflare AI Gateway)"),
        panel(
            layout,
            "table",
            "AI spend by feature",
            "Month-to-date AI spend per value of each configured cf-aig-metadata key (feature, "
            "tenant, ...; top N, the rest as 'other', requests without the key as 'unknown'). "
            "The gateway's own estimate of traffic the upstream provider bills: never part of "
            "the totals above. Empty unless the cloudflare_ai_gateway collector is configured.",
            [
                target(
                    "A",
                    "sum by (gateway, metadata_key, metadata_value) "
                    f"({once(catalog.AI_GATEWAY_FEATURE_SPEND)})",
                    format="table",
                )
            ],
            unit,
            10,
            9,
            **table,
        ),
        panel(
            layout,
            "table",
            "AI Gateway spend by model",
            "Per gateway, upstream provider and model this month: the gateway's estimated "
            "spend, requests and requests answered from its cache.",
            [
                target(
                    "A",
                    f"sum by (gateway, upstream, model) ({once(catalog.AI_GATEWAY_SPEND)})",
                    format="table",
                ),
                target(
                    "B",
                    f"sum by (gateway, upstream, model) ({once(catalog.AI_GATEWAY_REQUESTS)})",
                    format="table",
                ),
                target(
                    "C",
                    "sum by (gateway, upstream, model) "
                    f"({once(catalog.AI_GATEWAY_CACHED_REQUESTS)})",
                    format="table",
                ),
            ],
            unit,
            14,
            9,
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "Value #A": "spend",
                            "Value #B": "requests",
                            "Value #C": "cached",
                        },
                    },
                },
            ],
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": "requests|cached"},
                    "properties": [{"id": "unit", "value": "short"}],
                }
            ],
            options={"showHeader": True, "sortBy": [{"displayName": "spend", "desc": True}]},
        ),
    ]


def health(layout: Layout) -> list[dict[str, Any]]:
    runbook_link = [
        {"title": "Runbook", "url": f"{RUNBOOK}#costcollectorfailing", "targetBlank": True}
    ]
    return [
        row(layout, "Can I trust these numbers?"),
        panel(
            layout,
            "table",
            "Collector health",
            "Per collector: age of the data served, whether the last attempt succeeded, and "
            "failures by reason. An age turns red past the exporter's staleness limit "
            "(cost_data_stale_after_seconds, from its refresh interval), where CostDataStale "
            "fires.",
            [
                target(
                    "A", "time() - cost_collector_last_success_timestamp_seconds", format="table"
                ),
                target("B", "cost_collector_up", format="table"),
                # Per target like A and B: each replica is a collector with its own failures.
                target("C", "sum without (reason) (cost_collector_errors_total)", format="table"),
                target("S", f"max({catalog.DATA_STALE_AFTER.exposed_name})", "stale after"),
            ],
            "s",
            16,
            8,
            links=runbook_link,
            defaults=thresholds(("green", None)),
            transformations=[
                threshold_from("S", "stale after"),
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {
                            "Time": True,
                            "__name__": True,
                            "job": True,
                            "instance": True,
                        },
                        "renameByName": {
                            "Value #A": "data age",
                            "Value #B": "up",
                            "Value #C": "errors",
                        },
                    },
                },
            ],
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "data age"},
                    "properties": [{"id": "custom.cellOptions", "value": {"type": "color-text"}}],
                },
                {
                    "matcher": {"id": "byName", "options": "up"},
                    "properties": [{"id": "unit", "value": "bool_on_off"}],
                },
                {
                    "matcher": {"id": "byName", "options": "errors"},
                    "properties": [{"id": "unit", "value": "short"}],
                },
            ],
        ),
        panel(
            layout,
            "stat",
            "Exporter up",
            "Whether Prometheus can scrape the exporter (CostExporterDown when not).",
            [target("A", 'max(up{job=~".*cost.*"})', "up")],
            "bool_on_off",
            8,
            8,
            links=[{"title": "Runbook", "url": f"{RUNBOOK}#costexporterdown", "targetBlank": True}],
            defaults=thresholds(("red", None), ("green", 1)),
        ),
    ]


def dashboard(currency: str = "USD") -> dict[str, Any]:
    layout = Layout()
    unit = money_unit(currency)
    panels = (
        overview(layout, unit)
        + daily_burn(layout, unit)
        + by_app(layout, unit)
        + trends(layout, unit)
        + ai(layout, unit)
        + ai_gateway(layout, unit)
        + health(layout)
    )
    return {
        "uid": UID,
        "title": "Costs",
        "description": "What we spend, where, whether a cap is near, and whether the numbers "
        "are fresh. Data is a daily snapshot from cost-exporter.",
        "tags": ["costs", "cost-exporter"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 41,
        "time": {"from": "now/M", "to": "now"},
        "refresh": "5m",
        "links": [{"title": "Runbook", "type": "link", "url": RUNBOOK, "targetBlank": True}],
        "templating": {
            "list": [
                variable("provider", "Provider", "label_values(cost_month_to_date, provider)"),
                variable(
                    "account",
                    "Account",
                    'label_values(cost_month_to_date{provider=~"$provider"}, account)',
                ),
                variable(
                    "model", "Model", 'label_values(cost_ai_tokens{provider=~"$provider"}, model)'
                ),
                variable("app", "App", "label_values(cost_allocated_month_to_date, app)"),
            ]
        },
        "panels": panels,
    }


def render(currency: str = "USD") -> str:
    return json.dumps(dashboard(currency), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1] if len(sys.argv) > 1 else "USD"))
