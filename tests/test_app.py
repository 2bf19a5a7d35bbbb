from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

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


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with fake_provider() as fakes:
        fakes.returns("a", spend("10"))
        fakes.returns("b", spend("5", currency="EUR"))
        yield fakes


@pytest.fixture
def refresher(tmp_path: Path, fakes: Fakes) -> Refresher:
    return make_refresher(
        tmp_path, make_config(tmp_path, CONFIG), COST_REFRESH_MIN_INTERVAL_S="300"
    )


@pytest.fixture
async def client(refresher: Refresher) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(refresher, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
        yield client


async def test_metrics_serves_the_snapshot_in_text_format(
    client: httpx.AsyncClient, refresher: Refresher
) -> None:
    await refresher.refresh()
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    body = response.text
    assert (
        'cost_month_to_date{account="a",charge_frequency="usage_based",currency="USD",provider="fake",service_name="Compute",source="api"} 10.0'
        in body
    )
    # 5 EUR at the configured rate of 2
    assert (
        'cost_month_to_date{account="b",charge_frequency="usage_based",currency="USD",provider="fake",service_name="Compute",source="api"} 10.0'
        in body
    )
    assert 'cost_budget{account="a",currency="USD",provider="fake"} 100.0' in body
    assert 'cost_fx_rate{from="EUR",to="USD"} 2.0' in body


async def test_metrics_speaks_openmetrics_when_asked(
    client: httpx.AsyncClient, refresher: Refresher
) -> None:
    await refresher.refresh()
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert "# TYPE cost_collector_errors counter" in response.text


async def raw_scrape(client: httpx.AsyncClient, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its bytes as sent, before httpx would decode a gzip body."""
    async with client.stream("GET", "/metrics", headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


async def test_metrics_is_gzipped_when_the_scraper_accepts_it(
    client: httpx.AsyncClient, refresher: Refresher
) -> None:
    await refresher.refresh()
    response, raw = await raw_scrape(client, **{"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert raw[:2] == b"\x1f\x8b"  # the gzip magic: the bytes on the wire are compressed
    assert gzip.decompress(raw) == refresher.rendered.text


# What Prometheus 2.42 sends with every scrape.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


async def test_a_prometheus_scrape_gets_openmetrics_gzipped(
    client: httpx.AsyncClient, refresher: Refresher
) -> None:
    await refresher.refresh()
    headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
    response, raw = await raw_scrape(client, **headers)
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == refresher.rendered.openmetrics
    assert len(raw) < len(refresher.rendered.openmetrics) / 3
    assert response.headers["vary"] == "Accept, Accept-Encoding"


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("", "text/plain"),
        ("*/*", "text/plain"),  # curl
        ("text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "text/plain"),
        ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text"),
        ("application/json", "text/plain"),
    ],
)
async def test_the_format_follows_the_accept_header(
    client: httpx.AsyncClient, refresher: Refresher, accept: str, kind: str
) -> None:
    await refresher.refresh()
    # httpx asks for gzip by default: this scraper does not.
    response, raw = await raw_scrape(client, **{"Accept": accept, "Accept-Encoding": "identity"})
    assert response.headers["content-type"].startswith(kind)
    assert "content-encoding" not in response.headers
    plain = refresher.rendered.text if kind == "text/plain" else refresher.rendered.openmetrics
    assert raw == plain


async def test_metrics_stays_200_with_every_provider_failing(
    client: httpx.AsyncClient, refresher: Refresher, fakes: Fakes
) -> None:
    fakes.raises("a", RuntimeError("x"))
    fakes.raises("b", RuntimeError("y"))
    await refresher.refresh()
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'cost_collector_up{account="a",provider="fake"} 0.0' in response.text


async def test_fifty_concurrent_refresh_calls_cause_exactly_one_collection(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    gate = asyncio.Event()

    async def slow(_config, _ctx):  # type: ignore[no-untyped-def]
        await gate.wait()
        return spend("1")

    fakes.behaviours["a"] = slow
    calls = [asyncio.create_task(client.post("/refresh")) for _ in range(50)]
    await asyncio.sleep(0.1)
    gate.set()
    responses = await asyncio.gather(*calls)
    assert {r.status_code for r in responses} == {200}
    assert fakes.calls == {"a": 1, "b": 1}


async def test_a_second_forced_refresh_too_soon_gets_429_with_retry_after(
    client: httpx.AsyncClient, fakes: Fakes
) -> None:
    assert (await client.post("/refresh")).status_code == 200
    response = await client.post("/refresh")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 300
    assert fakes.calls == {"a": 1, "b": 1}


async def test_refresh_of_one_provider_and_of_an_unknown_one(client: httpx.AsyncClient) -> None:
    assert (await client.post("/refresh", params={"provider": "nope"})).status_code == 404
    response = await client.post("/refresh", params={"provider": "fake"})
    assert response.status_code == 200
    assert {a["account"] for a in response.json()["accounts"]} == {"a", "b"}


async def test_refresh_can_return_at_once_with_202(client: httpx.AsyncClient, fakes: Fakes) -> None:
    response = await client.post("/refresh", params={"wait": "false"})
    assert response.status_code == 202
    for _ in range(50):
        if fakes.calls:
            break
        await asyncio.sleep(0.01)
    assert fakes.calls == {"a": 1, "b": 1}


async def test_the_refresh_token_is_required_when_set(tmp_path: Path, fakes: Fakes) -> None:
    refresher = make_refresher(
        tmp_path,
        make_config(tmp_path, CONFIG),
        COST_REFRESH_TOKEN="s3cret-token-value",
        COST_REFRESH_MIN_INTERVAL_S="0",
    )
    app = create_app(refresher, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as c:
        assert (await c.post("/refresh")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await c.post("/refresh", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer s3cret-token-value"}
        assert (await c.post("/refresh", headers=right)).status_code == 200
    assert fakes.calls == {"a": 1, "b": 1}


async def test_healthz_says_whether_the_data_is_useful(
    client: httpx.AsyncClient, refresher: Refresher, fakes: Fakes
) -> None:
    assert (await client.get("/healthz")).json()["status"] == "starting"
    fakes.raises("a", RuntimeError("x"))
    fakes.raises("b", RuntimeError("x"))
    await refresher.refresh()
    assert (await client.get("/healthz")).status_code == 503
    fakes.returns("a", spend("1"))
    await refresher.refresh()
    response = await client.get("/healthz")
    assert (response.status_code, response.json()["status"]) == (200, "degraded")
    fakes.returns("b", spend("1"))
    await refresher.refresh()
    assert (await client.get("/healthz")).json()["status"] == "ok"


async def test_status_page_lists_collectors_errors_and_totals(
    client: httpx.AsyncClient, refresher: Refresher, fakes: Fakes
) -> None:
    await refresher.refresh()
    fakes.raises("b", RuntimeError("<script>alert(1)</script>"))
    await refresher.refresh()
    page = (await client.get("/")).text
    assert "failing" in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "20.00 USD" in page  # 10 USD + 5 EUR x 2, the last good value of b kept
