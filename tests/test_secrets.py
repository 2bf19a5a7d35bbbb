"""A secret value never appears in logs, /metrics, the status page or exception text."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from pytest_httpx import HTTPXMock

from cost_exporter import logs
from cost_exporter.app import create_app
from cost_exporter.providers.base import Context
from tests.fakes import FakeConfig, fake_provider, make_config, make_refresher

SECRET = "sk-live-0123456789abcdef"


async def test_a_secret_leaking_through_a_provider_error_is_masked_everywhere(
    tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    stream = io.StringIO()
    with fake_provider() as fakes:
        config = make_config(
            tmp_path,
            "providers:\n  fake:\n    - {account: a}\n    - {account: b}\n",
            env={"FAKE_TOKEN": SECRET},
        )
        logs.REDACT.set_secrets(config.secrets)
        logs.configure("debug", "json", stream=stream)

        async def careless(cfg: FakeConfig, _ctx: Context) -> list:  # type: ignore[type-arg]
            assert cfg.token is not None
            raise RuntimeError(f"upstream said: invalid key {cfg.token.get_secret_value()}")

        fakes.behaviours["a"] = careless
        fakes.calls_http("b")
        httpx_mock.add_response(url="https://fake.example.test/v1/costs", status_code=401)
        refresher = make_refresher(tmp_path, config)
        await refresher.refresh()

        app = create_app(refresher, run_scheduler=False)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://e"
        ) as client:
            metrics = (await client.get("/metrics")).text
            page = (await client.get("/")).text
            health = (await client.get("/healthz")).text

    request = httpx_mock.get_requests()[0]
    assert request.headers["Authorization"] == f"Bearer {SECRET}"  # it was really used
    errors = [state.last_error or "" for state in refresher.snapshot.accounts.values()]
    assert any("invalid key ***" in e for e in errors)
    assert any("HTTP 401" in e for e in errors)
    log_text = stream.getvalue()
    assert "collection_failed" in log_text
    for where, text in {
        "logs": log_text,
        "metrics": metrics,
        "page": page,
        "health": health,
        "errors": " ".join(errors),
        "snapshot": refresher.state_path.read_text(),
    }.items():
        assert SECRET not in text, f"secret leaked into {where}"


def test_secret_repr_never_shows_the_value(tmp_path: Path) -> None:
    with fake_provider():
        config = make_config(tmp_path, "", env={"FAKE_TOKEN": SECRET})
    assert SECRET not in repr(config)
    assert SECRET not in str(config.accounts)
