"""`cost-exporter demo`: every provider from the fake APIs, labelled, on throw-away state.

The demo runs in process on the fixed NOW of tests/helpers.py (the fake and the refresher
share that clock; nothing reads the wall clock). `demo.run` takes the function that serves:
the tests pass one that refreshes once and reads /metrics and the summary through the real
app, instead of starting uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from cost_exporter import cli, summary
from cost_exporter.app import create_app
from cost_exporter.commands import demo, serve
from cost_exporter.demo import config as demo_config
from cost_exporter.demo.providers import VERCEL_TEAM_ID, VERCEL_TOKEN, FakeProviders
from cost_exporter.providers import REGISTRY
from cost_exporter.refresher import Refresher
from cost_exporter.settings import Config, ExporterSettings
from tests.fakes import make_config, make_refresher
from tests.helpers import NOW, fast_http

ROOT = Path(__file__).resolve().parent.parent
ARGS = argparse.Namespace(host=None, port=None, config=None)

# Month-to-date on NOW (2026-11-23: 22 completed days) per `provider` label, in USD at
# EUR 1.08: the fake's round amounts and the example's bills.
EXPECTED_MONTH_TO_DATE = {
    "vercel": Decimal("26.50"),
    "supabase": Decimal("25.00"),  # the plan; compute and its credits cancel
    "cloudflare": Decimal("8.00"),
    "openai": Decimal("8.00"),
    "anthropic": Decimal("255.80"),  # 56.00 of API usage + Claude Max, 185 EUR
    "openrouter": Decimal("7.00"),
    "wasabi": Decimal("12.815"),  # 2.5 TB x 22 days x 6.99 / 30
    "ovh": Decimal("270.00"),
    "ionos": Decimal("6.48"),
    "hostinger": Decimal("5.40"),
    "hetzner": Decimal("19.3212"),  # the FOCUS file: 12.90 + 4.99 EUR
}


class Served:
    """A `serve_with` for `demo.run`: records what it was given, and (with `refresh`) runs
    one collection through the real app and keeps its /metrics and summary."""

    def __init__(self, refresh: bool = False) -> None:
        self.refresh = refresh
        self.settings: ExporterSettings | None = None
        self.config: Config | None = None
        self.env: dict[str, str] = {}
        self.metrics = ""
        self.page = ""
        self.summary_json: dict[str, Any] = {}
        self.summary: summary.Summary | None = None
        self.state_dir_existed = False

    def __call__(
        self,
        settings: ExporterSettings,
        config: Config,
        env: Mapping[str, str],
        _args: argparse.Namespace,
    ) -> int:
        self.settings, self.config, self.env = settings, config, dict(env)
        if self.refresh:
            asyncio.run(self._collect(settings, config))
            self.state_dir_existed = settings.state_dir.is_dir()
        return 0

    async def _collect(self, settings: ExporterSettings, config: Config) -> None:
        http = fast_http()
        try:
            refresher = Refresher(settings, config, http, clock=lambda: NOW, demo=True)
            await refresher.refresh()
            transport = httpx.ASGITransport(app=create_app(refresher, run_scheduler=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
                self.metrics = (await client.get("/metrics")).text
                self.page = (await client.get("/")).text
                self.summary_json = (await client.get("/api/summary")).json()
            self.summary = summary.from_refresher(refresher)
        finally:
            await http.aclose()


def month_to_date_by_provider(text: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for family in text_string_to_metric_families(text):
        if family.name == "cost_month_to_date":
            for sample in family.samples:
                totals[sample.labels["provider"]] += Decimal(str(sample.value))
    return {provider: round(total, 4) for provider, total in totals.items()}


def build_info(text: str) -> dict[str, str]:
    [family] = [
        f for f in text_string_to_metric_families(text) if f.name.startswith("cost_exporter_build")
    ]
    [sample] = family.samples
    return dict(sample.labels)


def test_the_demo_config_enables_every_provider_of_the_registry(tmp_path: Path) -> None:
    served = Served()
    assert demo.run({}, ARGS, clock=lambda: NOW, serve_with=served) == 0
    assert served.config is not None
    assert {entry.provider for entry in served.config.accounts} == set(REGISTRY)
    assert len(REGISTRY) == 10  # a new provider must be added to the demo too
    assert served.config.attribution is not None


def test_the_demo_bills_are_the_example_configs_less_the_supabase_plan() -> None:
    example = yaml.safe_load((ROOT / "exporter" / "config.example.yml").read_text())
    [account] = example["providers"]["manual"]
    expected = [bill for bill in account["bills"] if bill["name"] != "Supabase Pro plan"]
    [demo_account] = demo_config.MANUAL_ACCOUNTS
    assert demo_account["account"] == account["account"] == "default"
    assert demo_account["bills"] == expected
    assert len(expected) == 4


def test_the_demo_serves_every_provider_labelled_demo(tmp_path: Path) -> None:
    served = Served(refresh=True)
    demo.run({}, ARGS, clock=lambda: NOW, serve_with=served)

    assert build_info(served.metrics) == {"version": build_info(served.metrics)["version"],
                                          "demo": "true"}  # fmt: skip
    assert month_to_date_by_provider(served.metrics) == EXPECTED_MONTH_TO_DATE
    # The AI Gateway's estimate stays out of the totals (billed upstream), but it is collected.
    assert 'cost_collector_up{account="default",provider="cloudflare_ai_gateway"} 1.0' in (
        served.metrics
    )
    assert "cost_ai_gateway_spend" in served.metrics
    cached = [
        sample
        for family in text_string_to_metric_families(served.metrics)
        if family.name == "cost_ai_tokens"
        for sample in family.samples
        if sample.labels.get("token_type") == "cached_input" and sample.value > 0
    ]
    assert {sample.labels["provider"] for sample in cached} >= {"openai", "anthropic"}
    assert "cost_allocated_month_to_date" in served.metrics
    assert "cost_daily_budget" in served.metrics


def test_the_demo_says_so_on_the_page_and_in_the_summary(tmp_path: Path) -> None:
    served = Served(refresh=True)
    demo.run({}, ARGS, clock=lambda: NOW, serve_with=served)
    assert served.summary_json["demo"] is True
    assert (
        "Demo data: every figure on this page comes from built-in fake providers, "
        "not from your accounts."
    ) in served.page


def test_the_budget_close_to_its_cap_is_the_one_warning(tmp_path: Path) -> None:
    served = Served(refresh=True)
    demo.run({}, ARGS, clock=lambda: NOW, serve_with=served)
    assert served.summary is not None
    statuses = {(r.provider, r.account): r.budget_status for r in served.summary.spend}
    warnings = sorted(key for key, status in statuses.items() if status == "warning")
    assert warnings == [("vercel", "default")]  # 26.50 of 30
    assert statuses[("anthropic", "default")] == "ok"


def test_the_state_is_temporary_and_removed_at_exit(tmp_path: Path) -> None:
    served = Served(refresh=True)
    demo.run({}, ARGS, clock=lambda: NOW, serve_with=served)
    assert served.settings is not None
    assert served.state_dir_existed  # the snapshot was saved there while it ran
    assert served.settings.state_dir.name == "state"
    assert served.settings.state_dir.parent.name.startswith("cost-exporter-demo-")
    assert not served.settings.state_dir.parent.exists()
    assert not Path(served.env["COST_CONFIG_FILE"]).exists()


def test_an_explicit_state_dir_is_used_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "demo-state"
    served = Served(refresh=True)
    demo.run({"COST_STATE_DIR": str(state)}, ARGS, clock=lambda: NOW, serve_with=served)
    assert served.settings is not None
    assert served.settings.state_dir == state
    assert (state / "snapshot.json").is_file()
    assert not Path(served.env["COST_CONFIG_FILE"]).exists()  # the config file still goes


def test_an_empty_state_dir_counts_as_unset(tmp_path: Path) -> None:
    served = Served()
    demo.run({"COST_STATE_DIR": ""}, ARGS, clock=lambda: NOW, serve_with=served)
    assert served.settings is not None
    assert served.settings.state_dir.parent.name.startswith("cost-exporter-demo-")


def test_only_cost_settings_and_the_fakes_credentials_reach_the_demo(tmp_path: Path) -> None:
    served = Served()
    caller = {
        "OPENAI_ADMIN_KEY": "sk-admin-a-real-key",
        "FOCUS_PATH": "/srv/real-bills",
        "COST_LOG_LEVEL": "debug",
        "COST_CONFIG_FILE": str(tmp_path / "production.yml"),
    }
    demo.run(caller, ARGS, clock=lambda: NOW, serve_with=served)
    assert served.env["OPENAI_ADMIN_KEY"] == "sk-admin-fake-openai-0001"
    assert "FOCUS_PATH" not in served.env
    assert served.env["COST_LOG_LEVEL"] == "debug"
    assert served.env["COST_CONFIG_FILE"].endswith("/demo.yml")


def test_the_demo_serves_through_serve_in_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_serve(*_args: Any, **kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(serve, "serve", fake_serve)
    assert demo.run({}, ARGS, clock=lambda: NOW) == 0
    assert calls == [{"demo": True}]


def test_serve_is_never_in_demo_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def fake_serve(*_args: Any, **kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(serve, "serve", fake_serve)
    env = {
        "COST_CONFIG_FILE": str(ROOT / "exporter" / "config.example.yml"),
        "COST_STATE_DIR": str(tmp_path),
        "COST_DEMO": "true",  # no such setting: only the command turns demo mode on
    }
    assert cli.main(["serve"], env) == 0
    assert calls == [{}]


async def test_the_normal_refresher_says_demo_false(tmp_path: Path) -> None:
    refresher = make_refresher(tmp_path, make_config(tmp_path, "providers: {}\n"))
    assert refresher.demo is False
    await refresher.refresh()
    assert build_info(refresher.rendered.text.decode())["demo"] == "false"


def test_the_demos_daily_variation_keeps_the_months_total() -> None:
    def charges(fake: FakeProviders) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{fake.base_url('vercel')}/v1/billing/charges",
            params={"teamId": VERCEL_TEAM_ID, "from": "2026-11-01T00:00:00Z", "to": "2026-11-23T00:00:00Z"},
            headers={"Authorization": f"Bearer {VERCEL_TOKEN}"},
        )  # fmt: skip
        response.raise_for_status()
        return [yaml.safe_load(line) for line in response.text.splitlines()]

    with FakeProviders(clock=lambda: NOW) as fake:
        flat = charges(fake)
    with FakeProviders(clock=lambda: NOW, daily_variation=True) as fake:
        varied = charges(fake)

    def per_day(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
        days: dict[str, Decimal] = defaultdict(Decimal)
        for row in rows:
            days[row["ChargePeriodStart"][:10]] += Decimal(str(row["BilledCost"]))
        return days

    assert sum(per_day(flat).values()) == sum(per_day(varied).values()) == Decimal("26.50")
    assert len(per_day(flat)) == 4
    usage = per_day([r for r in varied if r["ChargeCategory"] == "Usage"])
    assert len(usage) == 22  # every completed day
    # Weekdays cost more than weekends: Wed 2026-11-18 against Sun 2026-11-22.
    assert usage["2026-11-18"] > usage["2026-11-22"] > 0
    assert sum(usage.values()) == Decimal("7.50")
