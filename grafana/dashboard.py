"""Generate the Grafana "Costs" dashboard: `.venv/bin/python grafana/dashboard.py > grafana/dashboards/costs.json`.

The JSON is committed; a test regenerates it and fails when the two drift. Queries use the
exporter's own series (no recording rules), so the dashboard also works on a Prometheus that
does not load this project's rules. Long-range panels wrap series in `last_over_time(...[1d])`
so daily backfilled samples and live ones both show. Every figure is summed through `once()`,
so two exporter replicas or an HA pair of Prometheus servers never double a total.

Layout of this file: the query helpers, one builder per kind of panel (a stat, a bar gauge, a
gauge of use against a cap, a pie, a sorted table, a history...), then one function per row
that lists its panels. What each panel answers is in DESCRIPTIONS, by title, so a row reads as
its list of panels and the texts read as one page.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cost_exporter import catalog
from cost_exporter.catalog import Family
from cost_exporter.providers.supabase import DATABASE_ROWS

UID = "cost-exporter-costs"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

Panel = dict[str, Any]
Target = dict[str, Any]
Size = tuple[int, int]
"""(width, height) on Grafana's 24-column grid."""


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
README = f"{BASE}/README.md"
RULES_HELP = f"{README}#attribute-costs-to-apps"
SEL = 'provider=~"$provider",account=~"$account"'
AI_SEL = f'{SEL},model=~"$model"'
# The allocated families have no account label: apps cut across accounts.
APP_SEL = 'provider=~"$provider",app=~"$app"'


# --- queries ---------------------------------------------------------------------------------


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


def summed(family: Family, selector: str = SEL, by: str = "", over: str = "") -> str:
    """The figures of `family` added up (per `by` labels when given), each counted once."""
    figures = once(family, selector, over)
    return f"sum by ({by}) ({figures})" if by else f"sum({figures})"


def share(by: str, part: str, whole: str) -> str:
    """`part` over `whole`, both added up per `by` and matched on it: spend over its budget."""
    return f"sum by ({by}) ({part}) / on ({by}) sum by ({by}) ({whole})"


def target(ref: str, expr: str, legend: str = "", instant: bool = True, **extra: Any) -> Target:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        **extra,
    }


def table_query(expr: str, ref: str = "A") -> Target:
    """A query whose labels become a table's columns."""
    return target(ref, expr, format="table")


def daily(expr: str, legend: str) -> Target:
    """A range query at one point a day: the figures change once a day."""
    return target("A", expr, legend, instant=False, interval="1d")


def money_unit(currency: str) -> str:
    return f"currency{currency}"


def thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for color, value in steps],
        }
    }


def link(title: str, url: str) -> dict[str, Any]:
    return {"title": title, "url": url, "targetBlank": True}


def runbook(anchor: str) -> list[dict[str, Any]]:
    """The runbook section of the alert a panel shows the state of."""
    return [link("Runbook", f"{RUNBOOK}#{anchor}")]


# Red from a cap's full use: the panels below replace it with the exporter's warning ratio
# (`warning_below()`), and only a Prometheus without cost_budget_warning_ratio shows this.
UTILISATION = thresholds(("green", None), ("red", 1.0))
WARNING_REF = "W"
WARNING_LEGEND = "warning ratio"


def warning_target() -> Target:
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


def to_matrix(rows: str, columns: str) -> dict[str, Any]:
    """One row per value of label `rows`, one column per value of label `columns`."""
    return {
        "id": "groupingToMatrix",
        "options": {"columnField": columns, "rowField": rows, "valueField": "Value"},
    }


def organize(hidden: Sequence[str], renamed: dict[str, str] | None = None) -> dict[str, Any]:
    """Hide the columns `hidden` (the sample time, target labels) and rename others."""
    options: dict[str, Any] = {"excludeByName": dict.fromkeys(hidden, True)}
    if renamed:
        options["renameByName"] = renamed
    return {"id": "organize", "options": options}


# --- placement -------------------------------------------------------------------------------


# The unit of amounts: the layout turns it into the reporting currency's (`Layout.money`).
MONEY = "money"


class Layout:
    """Places panels left to right on the 24-column grid, wrapping rows, and numbers them.
    `money` is the unit of amounts in the reporting currency."""

    def __init__(self, currency: str = "USD") -> None:
        self.x = self.y = self.row_height = 0
        self.next_id = 1
        self.money = money_unit(currency)

    def place(self, size: Size) -> dict[str, int]:
        width, height = size
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.row_height = max(self.row_height, height)
        return pos

    def new_row(self) -> None:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0

    def after_collapsed(self, header: Panel) -> None:
        """Go back to just under the collapsed row `header`: its panels were placed below it
        as Grafana lays them out when the row is expanded, but closed it is one unit high."""
        self.x, self.y, self.row_height = 0, header["gridPos"]["y"] + 1, 0

    def panel_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


# --- builders: one per kind of panel ---------------------------------------------------------


def panel(
    layout: Layout,
    kind: str,
    title: str,
    targets: list[Target],
    size: Size,
    unit: str,
    **options: Any,
) -> Panel:
    """A panel described by DESCRIPTIONS[title]. `defaults` and `overrides` go into its
    fieldConfig; every other option is a key of the panel itself."""
    field_config = {
        "defaults": {
            "unit": layout.money if unit == MONEY else unit,
            **options.pop("defaults", {}),
        },
        "overrides": options.pop("overrides", []),
    }
    return {
        "id": layout.panel_id(),
        "type": kind,
        "title": title,
        "description": DESCRIPTIONS[title],
        "datasource": DATASOURCE,
        "gridPos": layout.place(size),
        "targets": targets,
        "fieldConfig": field_config,
        **options,
    }


def row(layout: Layout, title: str, collapsed: bool = False) -> Panel:
    layout.new_row()
    return {
        "id": layout.panel_id(),
        "type": "row",
        "title": title,
        "collapsed": collapsed,
        "gridPos": layout.place((24, 1)),
        "panels": [],
    }


def collapsed_row(layout: Layout, title: str, build: Callable[[], list[Panel]]) -> list[Panel]:
    """A row of a feature that is off by default: collapsed, so a dashboard without it shows
    one line rather than panels of "No data", and opening with how to turn it on. Grafana's
    JSON model keeps a collapsed row's panels in the row's own `panels` list; `build` places
    them after the how-to text."""
    header = row(layout, title, collapsed=True)
    header["panels"] = [how_to(layout, title), *build()]
    layout.after_collapsed(header)
    return [header]


def how_to(layout: Layout, row_title: str) -> Panel:
    """A text panel: what the opt-in row `row_title` shows, how to turn it on, and the README
    section that explains it (under the base `make rules` sets, like the runbook links)."""
    shows, turn_on, (section, anchor) = OPT_IN[row_title]
    content = (
        f"**What this row shows.** {shows}\n\n**How to turn it on.** {turn_on} "
        f"README: [{section}]({README}#{anchor})."
    )
    return {
        "id": layout.panel_id(),
        "type": "text",
        "title": "What this row shows, and how to turn it on",
        "gridPos": layout.place((24, 4)),
        "options": {"mode": "markdown", "content": content},
    }


NAMED_VALUES = {"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "value_and_name"}
Steps = Sequence[tuple[str, float | None]]
Links = Sequence[dict[str, Any]]


def stat(
    layout: Layout,
    title: str,
    targets: list[Target],
    size: Size,
    unit: str = MONEY,
    *,
    steps: Steps = (),
    named: bool = False,
    links: Links = (),
    overrides: Sequence[dict[str, Any]] = (),
) -> Panel:
    """Figures as big numbers. `named` writes each query's legend beside its value (two
    figures side by side), `steps` colour the value."""
    options: dict[str, Any] = {"options": NAMED_VALUES} if named else {}
    if links:
        options["links"] = list(links)
    if overrides:
        options["overrides"] = list(overrides)
    colours = thresholds(*steps) if steps else {}
    return panel(layout, "stat", title, targets, size, unit, defaults=colours, **options)


def horizontal_bars(display: str = "gradient") -> dict[str, Any]:
    return {"orientation": "horizontal", "displayMode": display}


def bar_gauge(
    layout: Layout,
    title: str,
    targets: list[Target],
    size: Size,
    unit: str = MONEY,
    *,
    display: str = "gradient",
    overrides: Sequence[dict[str, Any]] = (),
) -> Panel:
    """One horizontal bar per series: amounts side by side, negative ones included."""
    bars = horizontal_bars(display)
    return panel(
        layout, "bargauge", title, targets, size, unit, options=bars, overrides=list(overrides)
    )


def cap_gauge(layout: Layout, title: str, used: Target, size: Size, links: Links = ()) -> Panel:
    """Use against a cap (spend of a budget, usage of a limit) as a share of it, one bar per
    series of `used`, red above the exporter's warning ratio, where its warning alert fires."""
    return panel(
        layout,
        "bargauge",
        title,
        [used, warning_target()],
        size,
        "percentunit",
        defaults={**UTILISATION, "min": 0, "max": 1.2},
        options=horizontal_bars(),
        transformations=warning_below(used["refId"]),
        **({"links": list(links)} if links else {}),
    )


def filter_link(label: str) -> dict[str, Any]:
    """A click on a series sets the dashboard variable of the same name to its `label`."""
    value = f"${{__field.labels.{label}}}"
    return {
        "title": f"Filter by {value}",
        "url": f"/d/{UID}/costs?var-{label}={value}&${{__url_time_range}}",
    }


def pie(layout: Layout, title: str, query: Target, size: Size, *, click_filters: str = "") -> Panel:
    """Shares of a whole. With `click_filters` (a label that is also a variable) a donut with
    a legend table, whose slices filter the dashboard on that label."""
    if not click_filters:
        return panel(layout, "piechart", title, [query], size, MONEY, options={"pieType": "pie"})
    legend = {"displayMode": "table", "placement": "right", "values": ["value"]}
    return panel(
        layout,
        "piechart",
        title,
        [query],
        size,
        MONEY,
        options={"pieType": "donut", "legend": legend},
        defaults={"links": [filter_link(click_filters)]},
    )


def sorted_by(column: str) -> dict[str, Any]:
    return {"showHeader": True, "sortBy": [{"displayName": column, "desc": True}]}


def sorted_table(layout: Layout, title: str, query: Target, size: Size, unit: str = MONEY) -> Panel:
    """One line per series of `query`, largest first, its labels as columns."""
    return panel(
        layout,
        "table",
        title,
        [query],
        size,
        unit,
        transformations=[organize(["Time"])],
        options=sorted_by("Value"),
    )


def matrix_table(
    layout: Layout, title: str, query: Target, size: Size, rows: str, columns: str
) -> Panel:
    """A cross table: one line per value of label `rows`, one column per value of `columns`."""
    matrix = [to_matrix(rows, columns)]
    return panel(layout, "table", title, [query], size, MONEY, transformations=matrix)


def merged_table(
    layout: Layout,
    title: str,
    columns: dict[str, Target],
    size: Size,
    unit: str = MONEY,
    *,
    hidden: Sequence[str] = ("Time",),
    first: Sequence[dict[str, Any]] = (),
    config: Sequence[Target] = (),
    **options: Any,
) -> Panel:
    """Several queries joined on their labels into one table, the value of each in the column
    named by its key in `columns`. `first` runs before the join (a threshold from data), fed
    by the `config` queries, which get no column."""
    targets = [*columns.values(), *config]
    renamed = {f"Value #{query['refId']}": name for name, query in columns.items()}
    joined = [*first, {"id": "merge", "options": {}}, organize(hidden, renamed)]
    return panel(layout, "table", title, targets, size, unit, transformations=joined, **options)


def stacked_bars(
    layout: Layout, title: str, query: Target, size: Size, unit: str, rows: str, stacks: str
) -> Panel:
    """One horizontal bar per value of label `rows`, stacked by the values of `stacks`."""
    return panel(
        layout,
        "barchart",
        title,
        [query],
        size,
        unit,
        options={"stacking": "normal", "xField": rows, "orientation": "horizontal"},
        transformations=[to_matrix(rows, stacks)],
    )


def history(
    layout: Layout, title: str, query: Target, size: Size, *, since: str, bars: bool
) -> Panel:
    """Amounts over the last `since`, one point a day, stacked: bars for monthly totals, a
    line for a figure that grows through the month."""
    style: dict[str, Any] = {"drawStyle": "bars", "fillOpacity": 60}
    if not bars:
        style = {"drawStyle": "line", "fillOpacity": 10}
    return panel(
        layout,
        "timeseries",
        title,
        [query],
        size,
        MONEY,
        timeFrom=since,
        interval="1d",
        defaults={"custom": {**style, "stacking": {"mode": "normal"}}},
    )


def field_override(names: str, prop: str, value: Any, matcher: str = "byName") -> dict[str, Any]:
    """Set `prop` of the columns or series `names` (a name, or a regex with byRegexp)."""
    return {
        "matcher": {"id": matcher, "options": names},
        "properties": [{"id": prop, "value": value}],
    }


# --- rows ------------------------------------------------------------------------------------


def overview(layout: Layout) -> list[Panel]:
    mtd, previous = catalog.MONTH_TO_DATE, catalog.PREVIOUS_MONTH
    forecast, budget = catalog.FORECAST_MONTH_END, catalog.BUDGET
    spent = [
        target("A", summed(mtd), "this month"),
        target("B", summed(previous), "previous month"),
    ]
    change = [target("A", f"{summed(forecast)} / {summed(previous)} - 1", "change")]
    against = [target("A", summed(forecast), "forecast"), target("B", summed(budget), "budget")]
    per_provider = target("A", summed(mtd, by="provider"), "{{provider}}")
    of_budget = share("provider, account", once(mtd, SEL), once(budget, SEL))
    # Only what every setup has, fixed bills alone included: the rest sits in collapsed rows.
    return [
        row(layout, "This month"),
        stat(layout, "Spent this month", spent, (8, 5), named=True),
        stat(layout, "Forecast vs previous month", change, (8, 5), "percentunit", steps=RISING),
        bar_gauge(layout, "Forecast vs total budget", against, (8, 5)),
        pie(layout, "Spend by provider", per_provider, (12, 9), click_filters="provider"),
        cap_gauge(
            layout,
            "Budget used per provider",
            target("A", of_budget, "{{provider}}/{{account}}"),
            (12, 9),
        ),
    ]


# A change against last month: orange from 10% higher, red from half as much again.
RISING = (("green", None), ("orange", 0.1), ("red", 0.5))


def daily_caps(layout: Layout) -> list[Panel]:
    yesterday = target("A", summed(catalog.LAST_DAY, by="provider"), "{{provider}} yesterday")
    cap = target("B", summed(catalog.DAILY_BUDGET, by="provider"), "{{provider}} daily cap")
    usage = f"{once(catalog.USAGE, SEL)} / on (provider, account, metric) "
    usage += once(catalog.USAGE_LIMIT, SEL)
    return collapsed_row(
        layout,
        "Daily caps and usage limits",
        lambda: [
            stat(
                layout,
                "Yesterday per provider, next to its daily cap",
                [yesterday, cap],
                (12, 9),
                named=True,
                links=runbook("dailyspendhigh"),
            ),
            cap_gauge(
                layout, "Usage limits used", target("A", usage, "{{provider}} {{metric}}"), (12, 9)
            ),
        ],
    )


def by_app(layout: Layout) -> list[Panel]:
    allocated, budget = catalog.ALLOCATED_MONTH_TO_DATE, catalog.APP_BUDGET
    apps = 'app=~"$app"'
    per_app = [target("A", summed(allocated, APP_SEL, by="app"), "{{app}}")]
    of_budget = share("app", once(allocated, apps), once(budget, apps))
    unallocated = summed(allocated, 'app="unallocated",provider=~"$provider"')
    per_provider = table_query(summed(allocated, APP_SEL, by="app, provider"))
    months = summed(catalog.ALLOCATED_PREVIOUS_MONTH, APP_SEL, by="app", over="1d")
    return collapsed_row(
        layout,
        "By app",
        lambda: [
            bar_gauge(layout, "Spend per app this month", per_app, (8, 9)),
            cap_gauge(
                layout,
                "Budget used per app",
                target("A", of_budget, "{{app}}"),
                (8, 9),
                links=runbook("appbudgetwarning"),
            ),
            stat(
                layout,
                "Unallocated this month",
                [target("A", unallocated, "unallocated")],
                (8, 9),
                steps=(("green", None), ("orange", 0.01)),
                links=[link("How to write attribution rules", RULES_HELP)],
            ),
            matrix_table(
                layout, "Spend by app and provider", per_provider, (12, 9), "app", "provider"
            ),
            history(
                layout,
                "Monthly totals per app, last 12 months",
                daily(months, "{{app}}"),
                (12, 9),
                since="1y",
                bars=True,
            ),
        ],
    )


def trends(layout: Layout) -> list[Panel]:
    mtd = catalog.MONTH_TO_DATE
    growing = daily(summed(mtd, by="provider", over="1d"), "{{provider}}")
    months = daily(summed(catalog.PREVIOUS_MONTH, by="provider", over="1d"), "{{provider}}")
    by_service = table_query(summed(mtd, by="provider, service_name"))
    by_source = target("A", summed(mtd, by="source"), "{{source}}")
    by_frequency = [target("A", summed(mtd, by="charge_frequency"), "{{charge_frequency}}")]
    return [
        row(layout, "Trends"),
        history(
            layout, "Month-to-date spend, last 30 days", growing, (12, 8), since="30d", bars=False
        ),
        history(layout, "Monthly totals, last 12 months", months, (12, 8), since="1y", bars=True),
        sorted_table(layout, "Spend by service", by_service, (10, 9)),
        pie(layout, "Spend by confidence", by_source, (7, 9)),
        bar_gauge(
            layout,
            "Spend by charge type",
            by_frequency,
            (7, 9),
            display="basic",
            overrides=CHARGE_TYPE_NAMES,
        ),
    ]


# Label values as FOCUS spells them, shown as people write them.
CHARGE_TYPE_NAMES = [
    field_override(value, "displayName", name)
    for value, name in (("usage_based", "usage-based"), ("one_time", "one-time"))
]
CREDIT_LEFT = (("red", None), ("orange", 5), ("green", 20))


def ai(layout: Layout) -> list[Panel]:
    by_model = summed(catalog.AI_SPEND_BY_MODEL, AI_SEL, by="provider, model, source")
    by_project = summed(catalog.AI_SPEND_BY_PROJECT, by="provider, project")
    by_key = summed(catalog.AI_SPEND_BY_API_KEY, by="provider, api_key, source")
    tokens = summed(catalog.AI_TOKENS, AI_SEL, by="model, token_type")
    requests = summed(catalog.AI_REQUESTS, AI_SEL, by="provider, model")
    saved = [target("A", summed(catalog.AI_CACHE_SAVINGS), "saved")]
    credit = [target("A", once(catalog.CREDIT_BALANCE, SEL), "{{provider}}/{{account}}")]
    return collapsed_row(
        layout,
        "AI",
        lambda: [
            sorted_table(layout, "AI spend by model", table_query(by_model), (8, 9)),
            sorted_table(layout, "AI spend by project", table_query(by_project), (8, 9)),
            sorted_table(layout, "AI spend by API key", table_query(by_key), (8, 9)),
            stacked_bars(
                layout,
                "Tokens by model and type",
                table_query(tokens),
                (10, 9),
                "short",
                rows="model",
                stacks="token_type",
            ),
            sorted_table(layout, "Requests by model", table_query(requests), (6, 9), "short"),
            stat(layout, "Saved by prompt caching", saved, (4, 9), steps=[("green", None)]),
            stat(layout, "Prepaid credit left", credit, (4, 9), steps=CREDIT_LEFT),
        ],
    )


def ai_gateway(layout: Layout) -> list[Panel]:
    # No selector: the gateway's figures are never part of cost_month_to_date, which the
    # provider and account variables list, so picking a provider would hide them.
    per_feature = "gateway, metadata_key, metadata_value"
    per_model = "gateway, upstream, model"
    by_feature = summed(catalog.AI_GATEWAY_FEATURE_SPEND, "", by=per_feature)
    columns = {
        "spend": table_query(summed(catalog.AI_GATEWAY_SPEND, "", by=per_model), "A"),
        "requests": table_query(summed(catalog.AI_GATEWAY_REQUESTS, "", by=per_model), "B"),
        "cached": table_query(summed(catalog.AI_GATEWAY_CACHED_REQUESTS, "", by=per_model), "C"),
    }
    return collapsed_row(
        layout,
        "By feature (Cloudflare AI Gateway)",
        lambda: [
            sorted_table(layout, "AI spend by feature", table_query(by_feature), (10, 9)),
            merged_table(
                layout,
                "AI Gateway spend by model",
                columns,
                (14, 9),
                overrides=[field_override("requests|cached", "unit", "short", "byRegexp")],
                options=sorted_by("spend"),
            ),
        ],
    )


def supabase(layout: Layout) -> list[Panel]:
    estimated = f'{SEL},source="estimated"'
    requests = summed(catalog.SUPABASE_API_REQUESTS_MONTH_TO_DATE, estimated)
    # Per account, not summed: days of two accounts added up would be no number of days.
    days = once(catalog.SUPABASE_API_REQUESTS_DAY_COVERAGE, SEL)
    month = [target("A", requests, "requests"), target("B", days, "{{account}}: days {{coverage}}")]
    rows = summed(catalog.USAGE, f'{SEL},metric="{DATABASE_ROWS}"')
    per_table = table_query(summed(catalog.TABLE_ROWS, by="account, table"))
    per_function = summed(catalog.SUPABASE_FUNCTION_INVOCATIONS_24H, by="account, function")
    return collapsed_row(
        layout,
        "Supabase",
        lambda: [
            stat(
                layout,
                "API requests this month",
                month,
                (12, 5),
                "short",
                steps=[("green", None)],
                named=True,
                overrides=[MISSING_DAYS],
            ),
            stat(layout, "Rows in the database", [target("A", rows, "rows")], (12, 5), "short"),
            sorted_table(layout, "Rows per table", per_table, (12, 9), "short"),
            sorted_table(
                layout,
                "Edge Function invocations, last 24 hours",
                table_query(per_function),
                (12, 9),
                "short",
            ),
        ],
    )


# Orange from one missing day: the month-to-date then counts fewer days than have passed.
MISSING_DAYS = field_override(
    ".*missing", "thresholds", thresholds(("green", None), ("orange", 1))["thresholds"], "byRegexp"
)


def collector_health(layout: Layout) -> Panel:
    columns = {
        "data age": table_query("time() - cost_collector_last_success_timestamp_seconds"),
        "up": table_query("cost_collector_up", "B"),
        # Per target like A and B: each replica is a collector with its own failures.
        "errors": table_query("sum without (reason) (cost_collector_errors_total)", "C"),
    }
    stale_after = target("S", f"max({catalog.DATA_STALE_AFTER.exposed_name})", "stale after")
    return merged_table(
        layout,
        "Collector health",
        columns,
        (16, 8),
        "s",
        hidden=("Time", "__name__", "job", "instance"),
        first=[threshold_from("S", "stale after")],
        config=[stale_after],
        links=runbook("costcollectorfailing"),
        defaults=thresholds(("green", None)),
        overrides=[
            field_override("data age", "custom.cellOptions", {"type": "color-text"}),
            field_override("up", "unit", "bool_on_off"),
            field_override("errors", "unit", "short"),
        ],
    )


# How many scraped exporters serve `cost-exporter demo`'s made-up figures: 0 is a count
# (none), not "unknown", so the panel reads "none" rather than "No data".
DEMO_EXPORTERS = f'count({catalog.BUILD_INFO.exposed_name}{{demo="true"}}) or vector(0)'
DEMO_WORDS = [
    {"type": "value", "options": {"0": {"text": "none", "color": "green"}}},
    {
        "type": "range",
        "options": {"from": 1, "to": 1e9, "result": {"text": "made-up data", "color": "red"}},
    },
]


def demo_data(layout: Layout) -> Panel:
    demo = [target("A", DEMO_EXPORTERS, "demo exporters")]
    words = {"mappings": DEMO_WORDS}
    return panel(layout, "stat", "Demo data in view", demo, (4, 8), "none", defaults=words)


def health(layout: Layout) -> list[Panel]:
    up = [target("A", 'max(up{job=~".*cost.*"})', "up")]
    return [
        row(layout, "Can I trust these numbers?"),
        collector_health(layout),
        stat(
            layout,
            "Exporter up",
            up,
            (4, 8),
            "bool_on_off",
            steps=(("red", None), ("green", 1)),
            links=runbook("costexporterdown"),
        ),
        demo_data(layout),
    ]


# --- what each panel answers (its description, shown on hover) -------------------------------

DESCRIPTIONS = {
    # This month
    "Spent this month": (
        "Month-to-date spend of every selected provider, with the whole previous month for "
        "comparison. Providers report up to yesterday; fixed bills count in full."
    ),
    "Forecast vs previous month": (
        "Month-end forecast (run-rate over completed days plus fixed bills) relative to the "
        "previous month's total: +10% means this month is heading 10% higher."
    ),
    "Forecast vs total budget": (
        "Month-end forecast against the sum of configured budgets (absolute caps from the config "
        "file)."
    ),
    "Spend by provider": (
        "Month-to-date spend per provider. Click a slice to filter the dashboard."
    ),
    "Budget used per provider": (
        "Month-to-date spend divided by the provider's configured monthly budget. Red above the "
        "exporter's warning_ratio (cost_budget_warning_ratio), where BudgetWarning fires; "
        "BudgetExceeded fires above 100%."
    ),
    # Daily caps and usage limits
    "Yesterday per provider, next to its daily cap": (
        "Spend of the last complete UTC day per provider (a leaked key or a runaway agent shows "
        "here within a day), and the daily cap from the config where one is set. DailySpendHigh "
        "fires when a day goes over its cap."
    ),
    "Usage limits used": (
        "Usage this month divided by its configured limit (e.g. Vercel function invocations "
        "against the free tier). Red above the exporter's warning_ratio, where BudgetWarning "
        "fires."
    ),
    # By app
    "Spend per app this month": (
        "Month-to-date spend attributed to each app by the attribution rules of the exporter's "
        "config, over every selected provider. Per provider it adds up to the provider's month to"
        " date; what no rule matches is the app 'unallocated'."
    ),
    "Budget used per app": (
        "Each app's month-to-date spend over all providers divided by its budget "
        "(attribution.app_budgets); apps without a budget are not shown. Red above the exporter's"
        " warning_ratio, where AppBudgetWarning fires."
    ),
    "Unallocated this month": (
        "Month-to-date spend no attribution rule matches. `cost-exporter attribution` lists the "
        "largest unallocated items with the match of a rule for each; the link explains how to "
        "write rules."
    ),
    "Spend by app and provider": ("Month-to-date spend per app (rows) and provider (columns)."),
    "Monthly totals per app, last 12 months": (
        "Each month's final total per app, as attributed by the rules in force when it was "
        "reported (the previous-month figure during the following month)."
    ),
    # Trends
    "Month-to-date spend, last 30 days": (
        "Month-to-date spend per provider, one point a day; it restarts from zero on the 1st of "
        "each month."
    ),
    "Monthly totals, last 12 months": (
        "Each month's final total per provider: the previous-month figure as reported during the "
        "following month."
    ),
    "Spend by service": (
        "Month-to-date spend per provider and service (FOCUS ServiceName), largest first."
    ),
    "Spend by confidence": (
        "How each figure is known: api (reported by the provider), estimated (usage x a price "
        "table), manual (fixed bills from the config)."
    ),
    "Spend by charge type": (
        "Month-to-date spend by how it is charged (FOCUS ChargeFrequency): usage-based (metered "
        "use), recurring (subscriptions and fixed monthly bills) or one-time (single purchases "
        "and other one-off charges). Bars, not a pie: credits can make a type negative."
    ),
    # AI
    "AI spend by model": (
        "Month-to-date AI spend per model; `source` says whether the provider reported it or it "
        "was estimated from tokens."
    ),
    "AI spend by project": (
        "Month-to-date AI spend per project or workspace (top N, the rest as 'other')."
    ),
    "AI spend by API key": (
        "Month-to-date AI spend per API key (top N, the rest as 'other'): a leaked key shows up "
        "here."
    ),
    "Tokens by model and type": (
        "Tokens this month; input is uncached input, so the types add up to the total."
    ),
    "Requests by model": ("Model requests this month."),
    "Saved by prompt caching": (
        "Estimated saving this month: cache-read tokens x (input price - cache-read price), from "
        "the exporter's shipped price table."
    ),
    "Prepaid credit left": (
        "Remaining prepaid balance at providers that sell credits (e.g. OpenRouter)."
    ),
    # By feature (Cloudflare AI Gateway)
    "AI spend by feature": (
        "Month-to-date AI spend per value of each configured cf-aig-metadata key (feature, "
        "tenant, ...; top N, the rest as 'other', requests without the key as 'unknown'). The "
        "gateway's own estimate of traffic the upstream provider bills: never part of the totals "
        "above. Empty unless the cloudflare_ai_gateway collector is configured."
    ),
    "AI Gateway spend by model": (
        "Per gateway, upstream provider and model this month: the gateway's estimated spend, "
        "requests and requests answered from its cache."
    ),
    # Can I trust these numbers?
    # Supabase
    "API requests this month": (
        "Supabase API requests (REST, Auth, Storage, Realtime) this month: the complete UTC "
        "days the exporter recorded from Supabase's 7-day windows, each day once (an estimate). "
        "Beside it, per account, the days of the month that sum covers and those missing "
        "(the exporter was down while a day was in a window, or a free plan's logs had no row "
        "for it): a missing day is left out, never counted as 0."
    ),
    "Rows in the database": (
        "Estimated live rows over every table of the selected Supabase projects (the "
        "statistics' count, no table scan): the figure a database_rows usage limit compares."
    ),
    "Rows per table": (
        "Estimated live rows per table (schema.table), largest first: the top tables of each "
        "account and the rest as 'other'. A table with a usage limit of its own is never in "
        "'other'."
    ),
    "Edge Function invocations, last 24 hours": (
        "Invocations per Edge Function in the 24 hours before the last collection, largest "
        "first (top functions and the rest as 'other'). Supabase gives no calendar window for "
        "them, so there is no month to date."
    ),
    "Collector health": (
        "Per collector: age of the data served, whether the last attempt succeeded, and failures "
        "by reason. An age turns red past the exporter's staleness limit "
        "(cost_data_stale_after_seconds, from its refresh interval), where CostDataStale fires."
    ),
    "Exporter up": ("Whether Prometheus can scrape the exporter (CostExporterDown when not)."),
    "Demo data in view": (
        "Whether an exporter this Prometheus scrapes runs `cost-exporter demo` "
        '(cost_exporter_build_info{demo="true"}): its figures are made up by fake providers '
        "and mix into every figure above."
    ),
}


# --- opt-in rows: what each shows, how to turn it on, and its README section (title, anchor) --

SUPABASE_ANCHOR = "supabase-api-requests-month-to-date-rows-and-functions"
PROVIDERS_SECTION = ("What each provider needs", "what-each-provider-needs-and-what-it-can-tell")
OPT_IN = {
    "By app": (
        "Spend per app across every provider, each app against its budget, what no rule "
        "attributes yet, and monthly totals per app.",
        "Add an `attribution:` section to the exporter's config: rules that map a provider's "
        "projects, keys or buckets to an app (first match wins) and, for the budgets, "
        "`app_budgets`; reload with SIGHUP. Without the section no allocated series exists.",
        ("Attribute costs to apps", "attribute-costs-to-apps"),
    ),
    "Daily caps and usage limits": (
        "Yesterday's usage-based spend per provider next to its daily cap, and how much of "
        "each usage limit (function invocations, bandwidth, database rows...) is used.",
        "Give a provider with daily figures its credentials (fixed bills have no day), and add "
        "`daily:` and `usage_limits:` to its entry under `budgets:` in the exporter's config; "
        "reload with SIGHUP.",
        ("Daily burn and history", "daily-burn-and-history"),
    ),
    "AI": (
        "AI spend per model, project and API key, tokens by type, requests per model, what "
        "prompt caching saved, and OpenRouter's prepaid credit left, from OpenAI, Anthropic "
        "and OpenRouter.",
        "Give the exporter the admin or management key of a provider: `OPENAI_ADMIN_KEY`, "
        "`ANTHROPIC_ADMIN_KEY` or `OPENROUTER_API_KEY` (or the same name with `_FILE` for a "
        "Docker secret).",
        PROVIDERS_SECTION,
    ),
    "By feature (Cloudflare AI Gateway)": (
        "AI spend per feature or tenant (cf-aig-metadata values) and per gateway and model: "
        "the gateway's estimate of traffic the upstream provider bills, never in the totals.",
        "Configure the `cloudflare_ai_gateway` collector: `CLOUDFLARE_AI_GATEWAY_API_TOKEN` "
        "(Account Analytics Read), `CLOUDFLARE_AI_GATEWAY_ACCOUNT_ID` and, for the per-feature "
        "table, `CLOUDFLARE_AI_GATEWAY_METADATA_KEYS` (the cf-aig-metadata keys requests carry).",
        PROVIDERS_SECTION,
    ),
    "Supabase": (
        "API requests this month with the days they count, rows in the database and per "
        "table, and Edge Function invocations of the last 24 hours, per Supabase account.",
        "Set `SUPABASE_ACCESS_TOKEN` (a scoped `sbp_` token with `infra_add_ons_read`, "
        "`database_read`, `infra_disk_config_read`, `analytics_usage_read` and "
        "`edge_functions_read`) and `SUPABASE_PROJECT_REF`; `SUPABASE_PLAN` makes a day "
        "without requests count as 0 on a paid plan.",
        ("Supabase: API requests month-to-date, rows and functions", SUPABASE_ANCHOR),
    ),
}


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


VARIABLES = (
    ("provider", "Provider", "label_values(cost_month_to_date, provider)"),
    ("account", "Account", 'label_values(cost_month_to_date{provider=~"$provider"}, account)'),
    ("model", "Model", 'label_values(cost_ai_tokens{provider=~"$provider"}, model)'),
    ("app", "App", "label_values(cost_allocated_month_to_date, app)"),
)
ROWS = (overview, daily_caps, by_app, trends, ai, ai_gateway, supabase, health)


def dashboard(currency: str = "USD") -> dict[str, Any]:
    layout = Layout(currency)
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
        "templating": {"list": [variable(*spec) for spec in VARIABLES]},
        "panels": [panel for build in ROWS for panel in build(layout)],
    }


def render(currency: str = "USD") -> str:
    return json.dumps(dashboard(currency), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1] if len(sys.argv) > 1 else "USD"))
