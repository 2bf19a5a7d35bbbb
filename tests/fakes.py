"""A provider whose behaviour each test sets: succeed, raise, hang, or call HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from cost_exporter import catalog
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers import REGISTRY
from cost_exporter.providers.base import Context, ProviderSpec
from cost_exporter.refresher import Refresher
from cost_exporter.samples import Money, Sample
from cost_exporter.settings import Config, HttpAccountConfig, load_config, load_exporter_settings
from tests.helpers import NOW


class FakeConfig(HttpAccountConfig):
    base_url: str = "https://fake.example.test"
    token: SecretStr | None = None


Behaviour = Callable[[FakeConfig, Context], Awaitable[list[Sample]]]


def spend(amount: str, service: str = "Compute", currency: str = "USD") -> list[Sample]:
    return [
        Sample.of(
            catalog.MONTH_TO_DATE,
            Money.of(amount, currency),
            service_name=service,
            source="api",
            charge_frequency=catalog.USAGE_BASED,
        ),
        Sample.of(catalog.USAGE, Decimal(amount) * 1000, metric="function_invocations"),
    ]


@dataclass
class Fakes:
    """Per-account behaviours and call counts for the provider named `fake`."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def returns(self, account: str, samples: list[Sample]) -> None:
        async def behaviour(_config: FakeConfig, _ctx: Context) -> list[Sample]:
            return samples

        self.behaviours[account] = behaviour

    def raises(self, account: str, exc: BaseException) -> None:
        async def behaviour(_config: FakeConfig, _ctx: Context) -> list[Sample]:
            raise exc

        self.behaviours[account] = behaviour

    def hangs(self, account: str) -> None:
        async def behaviour(_config: FakeConfig, _ctx: Context) -> list[Sample]:
            await asyncio.sleep(3600)
            return []

        self.behaviours[account] = behaviour

    def calls_http(self, account: str, path: str = "/v1/costs") -> None:
        async def behaviour(config: FakeConfig, ctx: Context) -> list[Sample]:
            headers = (
                {"Authorization": f"Bearer {config.token.get_secret_value()}"}
                if (config.token)
                else {}
            )
            body = await ctx.http.get_json(config.base_url + path, headers=headers)
            return spend(str(body["total"]))

        self.behaviours[account] = behaviour

    async def collect(self, config: FakeConfig, ctx: Context) -> list[Sample]:
        self.calls[config.account] = self.calls.get(config.account, 0) + 1
        return await self.behaviours[config.account](config, ctx)


@contextmanager
def fake_provider() -> Iterator[Fakes]:
    fakes = Fakes()
    spec = ProviderSpec(
        name="fake",
        config_model=FakeConfig,
        collect=fakes.collect,
        summary="test double",
        env={"token": "FAKE_TOKEN", "base_url": "FAKE_BASE_URL"},
    )
    REGISTRY["fake"] = spec
    try:
        yield fakes
    finally:
        del REGISTRY["fake"]


def make_config(tmp_path: Any, yaml_text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "config.yml"
    path.write_text(yaml_text)
    return load_config(env or {}, path, {n: s.env_spec() for n, s in REGISTRY.items()})


def make_refresher(tmp_path: Any, config: Config, clock: Any = None, **settings: str) -> Refresher:
    env = {"COST_STATE_DIR": str(tmp_path / "state"), "COST_COLLECTOR_TIMEOUT_S": "0.5", **settings}
    http = HttpClient(retry=RetryPolicy(max_attempts=2, initial_wait_s=0, max_wait_s=0))
    # Tests never read the wall clock: a refresher without a clock of its own lives at NOW.
    return Refresher(load_exporter_settings(env), config, http, clock=clock or (lambda: NOW))
