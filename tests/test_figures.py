"""The derivation stage: each figure is computed once per snapshot, and every view
(`/metrics`, `/api/summary`, the status page) shows the same value."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cost_exporter import catalog, figures, forecast
from cost_exporter.app import create_app
from cost_exporter.refresher import Refresher
from tests.fakes import Fakes, fake_provider, make_config, make_refresher, spend

CONFIG = """
reporting_currency: USD
fx_rates: {EUR: 2}
budgets:
  - {provider: fake, account: a, monthly: 100}
providers:
  fake:
    - {account: a}
    - {account: b}
"""

# The refresher's clock is 2026-11-23 01:00 UTC: 22 days of November have completed, and
# November has 30, so $10 of usage so far forecasts 10 / 22 * 30 at month end.
FORECAST_A = 10 / 22 * 30
FORECAST_B = 10 / 22 * 30  # 5 EUR at the configured rate of 2


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return function(*args, **kwargs)

        return counted


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with fake_provider() as fakes:
        fakes.returns("a", spend("10"))
        fakes.returns("b", spend("5", currency="EUR"))
        yield fakes


@pytest.fixture
def refresher(tmp_path: Path, fakes: Fakes) -> Refresher:
    return make_refresher(tmp_path, make_config(tmp_path, CONFIG))


@pytest.fixture
async def client(refresher: Refresher) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(refresher, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
        yield client


async def read_every_view(client: httpx.AsyncClient) -> None:
    for path in ("/metrics", "/api/summary", "/", "/metrics", "/api/summary", "/"):
        assert (await client.get(path)).status_code == 200


async def test_a_refresh_derives_once_and_the_views_derive_nothing(
    client: httpx.AsyncClient, refresher: Refresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    derivations, forecasts = Counter(), Counter()
    monkeypatch.setattr(figures, "derive", derivations.wrap(figures.derive))
    monkeypatch.setattr(forecast, "month_end", forecasts.wrap(forecast.month_end))

    await refresher.refresh()
    assert (derivations.calls, forecasts.calls) == (1, 2)  # one snapshot, two accounts

    await read_every_view(client)
    assert (derivations.calls, forecasts.calls) == (1, 2)


async def test_metrics_the_json_and_the_page_show_the_same_figures(
    client: httpx.AsyncClient, refresher: Refresher
) -> None:
    await refresher.refresh()
    metrics = (await client.get("/metrics")).text
    forecast_lines = {
        line.split('account="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("cost_forecast_month_end{")
    }
    assert forecast_lines == {"a": pytest.approx(FORECAST_A), "b": pytest.approx(FORECAST_B)}

    body = (await client.get("/api/summary")).json()
    rows = {row["account"]: row for row in body["spend"]}
    assert rows["a"]["forecast_month_end"] == forecast_lines["a"]
    assert rows["b"]["forecast_month_end"] == forecast_lines["b"]
    assert rows["a"]["month_to_date"] == 10.0
    assert rows["b"]["month_to_date"] == 10.0
    assert body["totals"]["month_to_date"] == 20.0
    assert body["totals"]["forecast_month_end"] == pytest.approx(FORECAST_A + FORECAST_B)

    page = (await client.get("/")).text
    assert "13.64" in page  # each account's forecast, as the page rounds it
    assert "27.27" in page  # and their total


def test_figures_are_read_only(refresher: Refresher) -> None:
    derived = refresher.figures
    with pytest.raises(TypeError):
        derived.series[catalog.BUDGET] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        derived[catalog.BUDGET][("fake", "a", "USD")] = Decimal(1)  # type: ignore[index]
    assert derived[catalog.BUDGET] == {("fake", "a", "USD"): Decimal(100)}
    # Nothing collected yet: no forecast series, never a made-up 0.
    assert derived.values_of(catalog.FORECAST_MONTH_END) == {}
