"""docs/adding-a-provider.md, proven: its example module, plugged in by one registry line,
is configured from the environment, collected and published like every other provider."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

from cost_exporter.providers import REGISTRY, env_specs
from cost_exporter.settings import load_config
from tests.fakes import make_refresher

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "adding-a-provider.md"
ENV = {"EXAMPLE_API_TOKEN": "example-secret-token-0123", "EXAMPLE_TEAM_ID": "team_1"}


def example_module() -> types.ModuleType:
    """The guide's first Python block, run as the module a contributor would write."""
    text = GUIDE.read_text(encoding="utf-8")
    code = re.search(r"## 1\. The module\s+```python\n(.*?)```", text, re.S)
    assert code, "the guide's module example is gone"
    module = types.ModuleType("example")
    exec(compile(code[1], str(GUIDE), "exec", dont_inherit=True), module.__dict__)
    return module


@pytest.fixture
def registered() -> Iterator[types.ModuleType]:
    module = example_module()
    REGISTRY["example"] = module.PROVIDER  # the one registry line
    try:
        yield module
    finally:
        del REGISTRY["example"]


async def test_the_guides_example_provider_is_collected_and_published(
    registered: types.ModuleType, tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url="https://api.example.com/v1/costs",
        match_headers={"Authorization": f"Bearer {ENV['EXAMPLE_API_TOKEN']}"},
        json={"data": [{"service": "Compute", "amount": "12.5"}]},
    )
    config = load_config(ENV, None, env_specs())
    assert [e.key for e in config.accounts] == [("example", "default")]
    refresher = make_refresher(tmp_path, config)
    result = await refresher.refresh()
    assert [o.ok for o in result.accounts] == [True]
    text = refresher.rendered.text.decode()
    assert (
        'cost_month_to_date{account="default",charge_frequency="usage_based",currency="USD",'
        'provider="example",service_name="Compute",source="api"} 12.5'
    ) in text
    assert 'cost_collector_up{account="default",provider="example"} 1.0' in text
    assert ENV["EXAMPLE_API_TOKEN"] not in text
