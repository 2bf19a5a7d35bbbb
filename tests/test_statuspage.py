"""The cost view on `/` and `GET /api/summary`, rendered from fixture snapshots.

Each fixture is a snapshot built by hand (the shape the refresher publishes), so
these tests read as the page a user would see: all providers ok, one failing,
one never collected, no budgets, an empty month on the 1st, hostile strings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from cost_exporter import catalog, logs, statuspage, summary
from cost_exporter.app import create_app
from cost_exporter.exposition import render
from cost_exporter.figures import derive
from cost_exporter.providers.base import Context
from cost_exporter.samples import Money, Sample
from cost_exporter.schedule import Schedule
from cost_exporter.settings import Config
from cost_exporter.snapshot import AccountState, Snapshot
from cost_exporter.summary import Usage
from tests.fakes import FakeConfig, Fakes, fake_provider, make_config, make_refresher, spend

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
COLLECTED = NOW - timedelta(hours=3)
SECRET = "sk-live-statuspage-0123456789"
TOKEN = "refresh-token-statuspage-42"

CONFIG = """
reporting_currency: USD
fx_rates: {EUR: 1.08}
budgets:
  - provider: vercel
    monthly: 20
    usage_limits: {function_invocations: 1000000, fast_data_transfer_bytes: 100000000000}
  - {provider: ovh, monthly: 300}
"""


# --- fixture snapshots ---------------------------------------------------------------


def mtd(
    amount: str, service: str, source: str = "api", currency: str = "USD", **labels: str
) -> Sample:
    labels.setdefault("charge_frequency", catalog.USAGE_BASED)
    return Sample.of(
        catalog.MONTH_TO_DATE,
        Money.of(amount, currency),
        service_name=service,
        source=source,
        **labels,
    )


def previous(
    amount: str, service: str, source: str = "api", currency: str = "USD", **labels: str
) -> Sample:
    labels.setdefault("charge_frequency", catalog.USAGE_BASED)
    return Sample.of(
        catalog.PREVIOUS_MONTH,
        Money.of(amount, currency),
        service_name=service,
        source=source,
        **labels,
    )


def daily(day: str, amount: str, frequency: str = catalog.USAGE_BASED) -> Sample:
    return Sample.of(
        catalog.DAILY_SPEND, Money.of(amount, "USD"), day=day, charge_frequency=frequency
    )


def collected(provider: str, samples: list[Sample], at: datetime = COLLECTED) -> AccountState:
    return AccountState(
        provider,
        "default",
        tuple(samples),
        up=True,
        last_success=at.timestamp(),
        last_attempt=at.timestamp(),
        duration_s=1.25,
    )


VERCEL = [
    mtd("12.50", "Functions"),
    mtd("3.50", "Bandwidth"),
    previous("14", "Functions"),
    Sample.of(catalog.USAGE, Decimal(812400), metric="function_invocations"),
    Sample.of(catalog.USAGE, Decimal("81234567890"), metric="fast_data_transfer_bytes"),
    *(daily(f"2026-11-{d:02d}", str(d % 3 + 0.5)) for d in range(1, 23)),
    daily("2026-10-31", "99"),  # last month's day: not on this month's sparkline
]
FIXED = {"source": "manual", "charge_frequency": catalog.RECURRING}
MANUAL = [
    mtd("250", "Dedicated server", currency="EUR", provider="ovh", **FIXED),
    mtd("25", "Pro plan", provider="supabase", **FIXED),
    previous("250", "Dedicated server", currency="EUR", provider="ovh", **FIXED),
    previous("25", "Pro plan", provider="supabase", **FIXED),
]
WASABI = [mtd("10", "Storage", "estimated")]
# 12.50 + 3.50 + 250 x 1.08 + 25 + 10
TOTAL = "321.00 USD"


def all_ok() -> Snapshot:
    states = [collected("vercel", VERCEL), collected("manual", MANUAL), collected("wasabi", WASABI)]
    return Snapshot({s.key: s for s in states})


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, CONFIG)


def build(snapshot: Snapshot, config: Config, now: datetime = NOW, **kw: Any) -> summary.Summary:
    kw.setdefault("next_collection", now + timedelta(hours=21))
    kw.setdefault("schedule", Schedule(refresh_interval_s=86400, retry_interval_s=3600))
    return summary.build(derive(snapshot, config, now, kw["schedule"]), snapshot, now, **kw)


def page_of(snapshot: Snapshot, config: Config, now: datetime = NOW, **kw: Any) -> str:
    return statuspage.render(build(snapshot, config, now, **kw))


def row(page: str, provider: str) -> str:
    """The HTML of one table row, by its row header."""
    match = re.search(rf'<tr><th scope="row">{re.escape(provider)}(?:(?!</tr>).)*</tr>', page, re.S)
    assert match, f"no row for {provider}"
    return match.group(0)


def text(fragment: str) -> str:
    """Visible text, roughly: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def sha256(text: str) -> str:
    """The CSP source expression of `text`'s UTF-8 bytes."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy(header: str) -> dict[str, str]:
    return dict(directive.split(" ", 1) for directive in header.split("; "))


class Elements(HTMLParser):
    """Every start tag and its attributes, to check the page's structure."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in self.data else None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.data[self._open].append(data)

    def handle_endtag(self, tag: str) -> None:
        self._open = None


# --- the page ------------------------------------------------------------------------


def test_with_every_provider_ok_the_page_shows_total_budgets_usage_sources_and_freshness(
    config: Config,
) -> None:
    page = page_of(all_ok(), config)
    assert f'<p class="total num" id="total">{TOTAL}</p>' in page
    assert "<title>321.00 USD this month · cost-exporter</title>" in page

    vercel = text(row(page, "vercel"))
    assert "16.00 USD" in vercel
    assert "80% of 20.00 USD · near the cap" in vercel
    assert "function invocations 812,400 of 1,000,000" in vercel
    assert "fast data transfer 81.2 GB of 100 GB" in vercel
    assert "provider-reported" in vercel
    assert "ok 3 h ago" in vercel
    assert "forecast" in vercel and "last month 14.00 USD" in vercel

    ovh = text(row(page, "ovh"))
    assert "270.00 USD" in ovh and "90% of 300.00 USD · near the cap" in ovh
    assert "manual" in ovh and "via manual/default" in ovh  # the collector behind the vendor
    assert "estimated" in text(row(page, "wasabi"))
    assert "no budget" in text(row(page, "supabase"))

    # The budgets cover vercel (16 / 22 days x 30 = 21.82) and ovh (270): 291.82 of 320.
    budgeted = text(page.split("Forecast against the budgets")[1].split("Data collected")[0])
    assert "91% of 320.00 USD · near the cap" in budgeted
    assert "2 of 4 accounts have a budget" in budgeted

    collectors = text(page.split('id="collectors"')[1])
    assert "manual default ok 3 h ago 3 h ago none" in collectors
    assert "Next collection in 21 h" in text(page)
    assert "Data collected 3 h ago" in text(page)


def test_the_sparkline_draws_this_months_days_only_and_needs_two(config: Config) -> None:
    page = page_of(all_ok(), config)
    polylines = re.findall(r'<polyline points="([^"]+)"/>', page)
    assert len(polylines) == 1  # vercel only: nobody else reports daily spend
    assert len(polylines[0].split()) == 22  # 1..22 November, not 31 October
    assert 'aria-label="Daily spend 01 Nov to 22 Nov' in page
    assert "<polyline" not in row(page, "ovh")

    one_day = [collected("vercel", [mtd("1", "Functions"), daily("2026-11-22", "1")])]
    assert "<polyline" not in page_of(Snapshot({s.key: s for s in one_day}), config)


def test_a_failing_collector_keeps_its_numbers_and_shows_the_redacted_error_and_reasons(
    config: Config,
) -> None:
    failing = AccountState(
        "vercel",
        "default",
        tuple(VERCEL),
        up=False,
        last_success=(NOW - timedelta(days=1)).timestamp(),
        last_attempt=(NOW - timedelta(minutes=30)).timestamp(),
        last_error="HTTP 401 from https://api.vercel.com/v1/billing: invalid token ***",
        errors={**dict.fromkeys(catalog.ERROR_REASONS, 0), "auth": 2, "timeout": 1},
    )
    snapshot = Snapshot({**all_ok().accounts, failing.key: failing})
    page = page_of(snapshot, config)
    assert f">{TOTAL}<" in page  # the last good numbers stay
    assert "failing 24 h ago" in text(row(page, "vercel"))
    collectors = text(page.split('id="collectors"')[1])
    assert "vercel default failing 24 h ago 30 min ago auth: 2, timeout: 1 HTTP 401" in collectors
    body = summary.to_json(build(snapshot, config))
    vercel = next(c for c in body["collectors"] if c["provider"] == "vercel")
    assert vercel["state"] == "failing" and vercel["errors"] == {"auth": 2, "timeout": 1}
    assert next(r for r in body["spend"] if r["provider"] == "vercel")["state"] == "failing"


def test_a_collector_never_run_is_listed_but_adds_no_spend(config: Config, tmp_path: Path) -> None:
    snapshot = Snapshot(
        {**all_ok().accounts, ("openai", "default"): AccountState("openai", "default")}
    )
    page = page_of(snapshot, config)
    assert f">{TOTAL}<" in page
    assert '<tr><th scope="row">openai</th>' in page
    assert "never collected" in text(page.split('id="collectors"')[1])
    body = summary.to_json(build(snapshot, config))
    assert "openai" not in {r["provider"] for r in body["spend"]}

    nothing = Snapshot({("openai", "default"): AccountState("openai", "default")})
    no_budgets = make_config(tmp_path, "")
    first_start = text(page_of(nothing, no_budgets, next_collection=NOW))
    assert "Data collected not collected yet" in first_start
    assert "Next collection due now" in first_start
    assert "No spend reported for November yet." in first_start


def test_a_budget_for_an_account_without_data_is_shown_without_a_made_up_zero(
    config: Config,
) -> None:
    only_manual = Snapshot({("manual", "default"): collected("manual", MANUAL)})
    vercel = text(row(page_of(only_manual, config), "vercel"))
    assert "not reported this month" in vercel
    assert "budget 20.00 USD" in vercel
    assert "function invocations not reported of 1,000,000" in vercel
    assert "no collector" in vercel
    body = summary.to_json(build(only_manual, config))
    row_json = next(r for r in body["spend"] if r["provider"] == "vercel")
    assert row_json["month_to_date"] is None and row_json["budget"] == 20.0
    assert row_json["state"] == "unconfigured" and row_json["collectors"] == []


def test_without_budgets_the_page_says_so(tmp_path: Path) -> None:
    config = make_config(tmp_path, "fx_rates: {EUR: 1.08}\n")
    page = page_of(all_ok(), config)
    assert "no budget set" in page
    assert "near the cap" not in page and "over the cap" not in page
    body = summary.to_json(build(all_ok(), config))
    assert body["totals"]["budget"] is None and body["totals"]["budget_status"] is None
    assert {r["budget_status"] for r in body["spend"]} == {None}
    assert {r["usage"] == [] for r in body["spend"]} == {True}


def test_on_the_first_last_months_figures_are_gone_and_the_forecast_is_what_is_known(
    config: Config,
) -> None:
    first = datetime(2026, 12, 1, 0, 2, tzinfo=UTC)
    page = text(page_of(all_ok(), config, now=first))  # collected in November
    assert "Month to date, December 2026 0.00 USD" in page
    assert "ovh default not reported this month" in page  # its budget stays visible
    assert "wasabi" not in page.split("Collectors")[0]
    assert "Previous month not reported" in page

    after_rollover = Snapshot(
        {("manual", "default"): collected("manual", MANUAL, at=first + timedelta(minutes=5))}
    )
    body = summary.to_json(build(after_rollover, config, now=first + timedelta(minutes=10)))
    totals = body["totals"]
    assert totals["month_to_date"] == totals["forecast_month_end"] == pytest.approx(295.0)
    assert totals["previous_month"] == pytest.approx(295.0)
    assert totals["forecast_vs_previous_month_pct"] == 0.0


def test_a_collector_older_than_two_intervals_is_stale(config: Config) -> None:
    old = collected("wasabi", WASABI, at=NOW - timedelta(days=3))
    snapshot = Snapshot({**all_ok().accounts, old.key: old})
    assert "stale 3 d ago" in text(row(page_of(snapshot, config), "wasabi"))


# Strings from outside, each aimed at one way in: markup, an attribute, and Jinja's own syntax
# (a template that rendered a value as a template would print 49 or swallow {% raw %}).
EVIL_PROVIDER = "<script>alert(1)</script>"
EVIL_ACCOUNT = '" onmouseover="alert(1) {{ 7*7 }}<img src=x onerror=alert(2)>'
EVIL_SERVICE = "{% raw %}{{ 7*7 }}<script>alert('service')</script>"
EVIL_ERROR = '</td></tr><script>alert("error")</script> {{ 7*7 }} {% raw %}" onmouseover=x'


def hostile_snapshot() -> Snapshot:
    hostile = AccountState(
        EVIL_PROVIDER,
        EVIL_ACCOUNT,
        (
            mtd("1", EVIL_SERVICE, provider=EVIL_PROVIDER),
            daily("<svg onload=alert(1)>", "1"),
        ),
        up=False,
        last_success=COLLECTED.timestamp(),
        last_attempt=NOW.timestamp(),
        last_error=EVIL_ERROR,
    )
    return Snapshot({**all_ok().accounts, hostile.key: hostile})


class Text(HTMLParser):
    """The text a browser shows (character references decoded), outside <style>/<script>."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip = tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def test_hostile_strings_from_providers_and_config_render_as_text(config: Config) -> None:
    page = page_of(
        hostile_snapshot(), config, grafana_url='https://grafana.example/" onmouseover="alert(1)'
    )

    for raw in ("<script>alert", "<img", "<svg onload", '" onmouseover='):
        assert raw not in page
    # Escaped where it stands, written out literally (autoescape: &#34; and &#39; for quotes).
    assert (
        '<tr><th scope="row">&lt;script&gt;alert(1)&lt;/script&gt;'
        '<span class="account">&#34; onmouseover=&#34;alert(1) {{ 7*7 }}'
        "&lt;img src=x onerror=alert(2)&gt;</span></th>"
    ) in page
    assert (
        "<li>{% raw %}{{ 7*7 }}&lt;script&gt;alert(&#39;service&#39;)&lt;/script&gt;: "
        '<span class="num">1.00 USD</span>'
    ) in page
    assert (
        '<p class="error">&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(&#34;error&#34;)'
        "&lt;/script&gt; {{ 7*7 }} {% raw %}&#34; onmouseover=x</p>"
    ) in page
    assert (
        '<a href="https://grafana.example/&#34; onmouseover=&#34;alert(1)/d/cost-exporter-costs">'
    ) in page
    assert (
        '<td data-label="Account">&#34; onmouseover=&#34;alert(1) {{ 7*7 }}'
        "&lt;img src=x onerror=alert(2)&gt;</td>"
    ) in page

    # And a browser shows them back as they came, never evaluated.
    shown = "".join(Text(page).parts)
    for original in (EVIL_PROVIDER, EVIL_ACCOUNT, EVIL_SERVICE, EVIL_ERROR):
        assert original in shown
    spend_row = row(page, "&lt;script&gt;alert(1)&lt;/script&gt;")
    collector_row = row(page.split('id="collectors"')[1], "&lt;script&gt;alert(1)&lt;/script&gt;")
    for evil_row in (spend_row, collector_row):
        assert "{{ 7*7 }}" in evil_row and "49" not in evil_row
    assert "{% raw %}" in spend_row and "{% raw %}" in collector_row

    elements = Elements(page)
    tags = [tag for tag, _ in elements.tags]
    assert tags.count("script") == 1 and tags.count("style") == 1
    assert "img" not in tags
    for tag, attrs in elements.tags:
        assert "style" not in attrs, f"<{tag} style=...> would need 'unsafe-inline'"
        assert not [a for a in attrs if a.startswith("on")], f"<{tag}> has an event handler"
    body = summary.to_json(build(hostile_snapshot(), config))
    evil = next(c for c in body["collectors"] if c["provider"] == EVIL_PROVIDER)
    assert (evil["account"], evil["last_error"]) == (EVIL_ACCOUNT, EVIL_ERROR)  # as they came
    json.dumps(body)  # and the JSON still serialises


DEMO = (
    '<p class="demo" id="demo" role="note">Demo data: every figure on this page comes from '
    "built-in fake providers, not from your accounts.</p>"
)


def test_demo_figures_are_announced_by_a_banner_at_the_top(config: Config) -> None:
    page = page_of(all_ok(), config, demo=True)
    assert DEMO in page
    assert page.index(DEMO) < page.index("<header>")  # above everything else on the page
    assert "Demo data" not in page_of(all_ok(), config)
    assert 'class="demo"' not in page_of(all_ok(), config, demo=False)


def test_the_policy_hashes_exactly_the_style_and_script_the_page_inlines(config: Config) -> None:
    page = page_of(all_ok(), config, demo=True)
    csp = policy(statuspage.HEADERS["Content-Security-Policy"])
    elements = Elements(page)
    style, script = "".join(elements.data["style"]), "".join(elements.data["script"])
    assert [tag for tag, _ in elements.tags if tag in ("style", "script")] == ["style", "script"]
    assert (csp["style-src"], csp["script-src"]) == (sha256(style), sha256(script))
    # What is inlined is the shipped files, byte for byte, not a copy of them.
    static = ROOT / "exporter" / "cost_exporter" / "static"
    assert style.encode() == (static / "status.css").read_bytes()
    assert script.encode() == (static / "status.js").read_bytes()
    assert "'unsafe-inline'" not in statuspage.CONTENT_SECURITY_POLICY


def test_the_package_data_globs_ship_every_template_and_static_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["cost_exporter"]
    package = ROOT / "exporter" / "cost_exporter"
    shipped = {path for pattern in globs for path in package.glob(pattern) if path.is_file()}
    for folder in ("templates", "static"):
        files = {
            path
            for path in (package / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert files, f"{folder}/ is empty"
        missing = sorted(str(path.relative_to(package)) for path in files - shipped)
        assert not missing, f"not matched by [tool.setuptools.package-data]: {missing}"
    for pattern in globs:  # and no glob names files that do not exist
        assert [p for p in package.glob(pattern) if p.is_file()], f"{pattern!r} matches nothing"


# --- words and pieces --------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "limit", "words"),
    [
        ("function_invocations", "812400", "1000000", "function invocations 812,400 of 1,000,000"),
        (
            "fast_data_transfer_bytes",
            "81234567890",
            "100000000000",
            "fast data transfer 81.2 GB of 100 GB",
        ),
        (
            "function_duration_gb_hours",
            "12.5",
            "1000",
            "function duration 12.50 GB-hours of 1,000 GB-hours",
        ),
        ("workers_cpu_time_seconds", "90", "3600", "workers cpu time 90 s of 3,600 s"),
        ("output_tokens", None, "5000000", "output not reported of 5,000,000 tokens"),
    ],
)
def test_usage_is_said_in_words_with_its_unit(
    metric: str, value: str | None, limit: str, words: str
) -> None:
    usage = Usage(metric, None if value is None else Decimal(value), Decimal(limit), Decimal("0.8"))
    assert statuspage.usage_words(usage) == words


@pytest.mark.parametrize(
    ("used", "cap", "status"),
    [
        ("79.99", "100", "ok"),
        ("80", "100", "warning"),
        ("100", "100", "exceeded"),
        ("1", "0", "exceeded"),
    ],
)
def test_caps_turn_amber_from_the_warning_ratio_and_red_from_100_percent(
    used: str, cap: str, status: str
) -> None:
    assert summary.cap_status(Decimal(used), Decimal(cap), Decimal("0.8")) == status


def test_the_page_and_json_warn_from_the_configured_warning_ratio(tmp_path: Path) -> None:
    # vercel: 16 of 20 (80%), both usage metrics at 81%; ovh: 270 + 25 of 300 (98%).
    config = make_config(tmp_path, CONFIG + "warning_ratio: 0.9\n")
    body = summary.to_json(build(all_ok(), config))
    assert body["warning_ratio"] == 0.9
    rows = {r["provider"]: r for r in body["spend"]}
    assert rows["vercel"]["budget_status"] == "ok"
    assert [u["status"] for u in rows["vercel"]["usage"]] == ["ok", "ok"]
    assert rows["ovh"]["budget_status"] == "warning"
    assert "near the cap" not in text(row(page_of(all_ok(), config), "vercel"))

    config = make_config(tmp_path, CONFIG + "warning_ratio: 0.5\n")
    rows = {r["provider"]: r for r in summary.to_json(build(all_ok(), config))["spend"]}
    assert rows["vercel"]["budget_status"] == "warning"
    assert [u["status"] for u in rows["vercel"]["usage"]] == ["warning", "warning"]
    assert "near the cap" in text(row(page_of(all_ok(), config), "vercel"))


def test_a_percentage_just_under_a_threshold_is_never_shown_rounded_up(config: Config) -> None:
    almost = [collected("vercel", [mtd("15.99", "Functions")])]
    vercel = text(row(page_of(Snapshot({s.key: s for s in almost}), config), "vercel"))
    assert "79% of 20.00 USD" in vercel and "near the cap" not in vercel


def test_ages_read_as_words() -> None:
    assert statuspage.age(NOW - timedelta(seconds=30), NOW) == "just now"
    assert statuspage.age(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert statuspage.age(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert statuspage.age(NOW - timedelta(days=3), NOW) == "3 d ago"
    assert statuspage.age(NOW + timedelta(hours=21), NOW) == "in 21 h"


def test_the_grafana_link_points_at_the_shipped_costs_dashboard(config: Config) -> None:
    assert "Grafana" not in page_of(all_ok(), config)
    page = page_of(all_ok(), config, grafana_url="https://grafana.example:3000/")
    assert '<a href="https://grafana.example:3000/d/cost-exporter-costs">' in page
    dashboard = json.loads((ROOT / "grafana" / "dashboards" / "costs.json").read_text())
    assert f"/d/{dashboard['uid']}" == summary.GRAFANA_DASHBOARD_PATH


# --- the JSON ----------------------------------------------------------------------

SUMMARY_KEYS = {
    "": {
        "schema_version",
        "exporter_version",
        "generated_at",
        "month",
        "currency",
        "fx_rates",
        "warning_ratio",
        "demo",
        "totals",
        "data",
        "spend",
        "collectors",
        "refresh",
        "links",
    },
    "totals": {
        "month_to_date",
        "previous_month",
        "forecast_month_end",
        "forecast_vs_previous_month_pct",
        "budget",
        "budgeted_forecast_month_end",
        "forecast_vs_budget_pct",
        "budget_status",
    },
    "data": {"newest_success", "oldest_success", "next_collection", "refreshing"},
    "spend[]": {
        "provider",
        "account",
        "month_to_date",
        "previous_month",
        "forecast_month_end",
        "budget",
        "budget_used_pct",
        "budget_status",
        "sources",
        "services",
        "usage",
        "daily",
        "collectors",
        "state",
        "last_success",
    },
    "spend[].services[]": {"service_name", "source", "charge_frequency", "month_to_date"},
    "spend[].usage[]": {"metric", "value", "limit", "used_pct", "status"},
    "spend[].daily[]": {"day", "amount"},
    "collectors[]": {
        "provider",
        "account",
        "state",
        "last_success",
        "last_attempt",
        "duration_s",
        "last_error",
        "errors",
        "skipped_records",
    },
    "refresh": {"endpoint", "token_required", "min_interval_s"},
    "links": {"metrics", "healthz", "grafana"},
}


def test_the_summary_json_keeps_its_documented_keys(config: Config) -> None:
    body = summary.to_json(build(all_ok(), config))
    vercel = next(r for r in body["spend"] if r["provider"] == "vercel")
    found = {
        "": body,
        "totals": body["totals"],
        "data": body["data"],
        "spend[]": vercel,
        "spend[].services[]": vercel["services"][0],
        "spend[].usage[]": vercel["usage"][0],
        "spend[].daily[]": vercel["daily"][0],
        "collectors[]": body["collectors"][0],
        "refresh": body["refresh"],
        "links": body["links"],
    }
    assert {where: set(value) for where, value in found.items()} == SUMMARY_KEYS
    assert body["schema_version"] == 1
    assert body["demo"] is False
    assert body["generated_at"] == "2026-11-23T04:00:00Z"
    assert vercel["daily"][0] == {"day": "2026-11-01", "amount": 1.5}
    assert vercel["sources"] == {"api": 16.0}


def test_the_summary_says_whether_its_figures_are_demo_data(config: Config) -> None:
    assert build(all_ok(), config).demo is False
    assert summary.to_json(build(all_ok(), config, demo=True))["demo"] is True


def test_the_readme_documents_every_summary_key() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### `GET /api/summary`")[1].split("\n## ")[0]
    for keys in SUMMARY_KEYS.values():
        for key in keys:
            documented = f"`{key}`" in section or f"`{key}[]`" in section
            assert documented, f"README's /api/summary section lacks `{key}`"


def metrics_total(body: str, name: str) -> float:
    """The sum of one family's samples as /metrics prints them."""
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(name + "{")
    )


def test_page_json_and_metrics_agree(config: Config) -> None:
    built = build(all_ok(), config)
    page, body = statuspage.render(built), summary.to_json(built)
    metrics = render(derive(all_ok(), config, NOW)).text.decode()
    # 12.50 + 3.50 + 250 EUR x 1.08 + 25 + 10, on the page, in the JSON and on /metrics
    assert body["totals"]["month_to_date"] == pytest.approx(321.0)
    assert metrics_total(metrics, "cost_month_to_date") == pytest.approx(321.0)
    assert ">321.00 USD<" in page
    # Per row: 12.50 + 3.50; 250 EUR x 1.08; 25; 10.
    rows = {r["provider"]: r["month_to_date"] for r in body["spend"]}
    for provider, shown, number in (
        ("vercel", "16.00 USD", 16.0),
        ("ovh", "270.00 USD", 270.0),
        ("supabase", "25.00 USD", 25.0),
        ("wasabi", "10.00 USD", 10.0),
    ):
        assert shown in text(row(page, provider))
        assert rows[provider] == pytest.approx(number)
    # Usage over 22 of November's 30 days (vercel 16, wasabi 10), fixed bills as they are:
    # 16 / 22 x 30 + 10 / 22 x 30 + 270 + 25 = 330.4545...
    assert body["totals"]["forecast_month_end"] == pytest.approx(330.4545, abs=1e-4)
    assert metrics_total(metrics, "cost_forecast_month_end") == pytest.approx(330.4545, abs=1e-4)


# --- over HTTP -----------------------------------------------------------------------

APP_CONFIG = """
budgets: [{provider: fake, account: a, monthly: 100}]
providers:
  fake:
    - {account: a}
"""


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with fake_provider() as fakes:
        fakes.returns("a", spend("10"))
        yield fakes


async def get(app: Any, *paths: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        return [await c.get(path) for path in paths]


async def test_the_page_allows_only_its_own_style_and_script(tmp_path: Path, fakes: Fakes) -> None:
    refresher = make_refresher(tmp_path, make_config(tmp_path, APP_CONFIG))
    await refresher.refresh()
    (response,) = await get(create_app(refresher, run_scheduler=False), "/")
    assert response.status_code == 200
    csp = policy(response.headers["content-security-policy"])
    elements = Elements(response.text)
    assert csp == {
        "default-src": "'none'",
        "style-src": sha256("".join(elements.data["style"])),
        "script-src": sha256("".join(elements.data["script"])),
        "connect-src": "'self'",
        "img-src": "'self' data:",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    for tag, attrs in elements.tags:  # nothing is loaded from elsewhere
        for name in ("src", "href", "action"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http:", "https:", "//")), f"<{tag} {name}={value}>"


async def test_api_summary_serves_the_same_numbers_as_the_page_and_metrics(
    tmp_path: Path, fakes: Fakes
) -> None:
    refresher = make_refresher(tmp_path, make_config(tmp_path, APP_CONFIG))
    await refresher.refresh()
    page, api, metrics = await get(
        create_app(refresher, run_scheduler=False), "/", "/api/summary", "/metrics"
    )
    assert api.headers["content-type"] == "application/json"
    body = api.json()
    assert body["totals"]["month_to_date"] == 10.0
    assert (
        'cost_month_to_date{account="a",charge_frequency="usage_based",currency="USD",provider="fake",service_name="Compute",source="api"} 10.0'
        in metrics.text
    )
    assert ">10.00 USD<" in page.text
    assert body["spend"][0]["budget_used_pct"] == 10.0
    assert body["spend"][0]["usage"] == []  # no limit configured for its usage
    assert body["refresh"] == {
        "endpoint": "/refresh",
        "token_required": False,
        "min_interval_s": 300.0,
    }
    assert body["collectors"][0]["state"] == "ok"


async def test_no_secret_reaches_the_page_or_the_json(tmp_path: Path) -> None:
    with fake_provider() as fakes:
        config = make_config(
            tmp_path, "providers:\n  fake:\n    - {account: a}\n", env={"FAKE_TOKEN": SECRET}
        )
        logs.REDACT.set_secrets(config.secrets)

        async def careless(cfg: FakeConfig, _ctx: Context) -> list[Sample]:
            assert cfg.token is not None
            raise RuntimeError(f"upstream said: invalid key {cfg.token.get_secret_value()}")

        fakes.behaviours["a"] = careless
        refresher = make_refresher(tmp_path, config, COST_REFRESH_TOKEN=TOKEN)
        await refresher.refresh()
        page, api = await get(create_app(refresher, run_scheduler=False), "/", "/api/summary")
    assert "invalid key ***" in api.json()["collectors"][0]["last_error"]
    assert api.json()["refresh"]["token_required"] is True
    assert 'type="password"' in page.text
    for where, body in {"page": page.text, "json": api.text}.items():
        for secret in (SECRET, TOKEN):
            assert secret not in body, f"a secret leaked into the {where}"


async def test_refresh_says_whether_it_joined_a_collection_in_flight(
    tmp_path: Path, fakes: Fakes
) -> None:
    gate = asyncio.Event()

    async def slow(_config: FakeConfig, _ctx: Context) -> list[Sample]:
        await gate.wait()
        return spend("1")

    fakes.behaviours["a"] = slow
    refresher = make_refresher(
        tmp_path, make_config(tmp_path, APP_CONFIG), COST_REFRESH_MIN_INTERVAL_S="0"
    )
    app = create_app(refresher, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        first = asyncio.create_task(c.post("/refresh"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(c.post("/refresh"))
        await asyncio.sleep(0.05)
        assert (await c.get("/api/summary")).json()["data"]["refreshing"] is True
        gate.set()
        answers = [(await first).json(), (await second).json()]
    assert [(a["status"], a["joined"]) for a in answers] == [("done", False), ("done", True)]
    assert fakes.calls == {"a": 1}
