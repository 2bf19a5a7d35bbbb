"""Fault-injection matrix: every provider against every way a billing API misbehaves.

Each case runs a real `Refresher` and the real app with two providers: `fake`
(tests/fakes.py, healthy, over HTTP too) and the provider under test. A good
collection for both comes first, then the fault, both through `POST /refresh`.
Then it checks what a user relies on:

* `/metrics`, `/` and `/healthz` answer 200, and the healthy provider's values
  are unchanged;
* the failing provider keeps its last good values, `cost_collector_up` is 0 and
  `cost_collector_errors_total` moved by one, for the expected reason only;
* a `collection_failed` log line names the provider, the reason and what happened;
* no configured secret appears in the logs, `/metrics`, `/`, `/healthz`, the
  `/refresh` payload, the error text or the snapshot file (the fault bodies
  echo the secret on purpose);
* the work is bounded: requests are counted (retries stop at the policy's
  attempts, pagination at its bound) and the huge body's memory is traced.

Providers differ only in their good answers and in which endpoint pages: the
`APIS` table. Connection refused, TLS errors and truncated bodies go through
real sockets on 127.0.0.1; everything else is answered by pytest-httpx.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import socketserver
import threading
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pytest_httpx import HTTPXMock

from cost_exporter import catalog, http_client, logs
from cost_exporter.app import create_app
from cost_exporter.errors import CollectorError
from cost_exporter.figures import derive
from cost_exporter.http_client import HttpClient, RetryPolicy
from cost_exporter.providers import REGISTRY, openrouter, wasabi
from cost_exporter.providers.base import Context
from cost_exporter.refresher import Refresher
from cost_exporter.settings import load_config, load_exporter_settings
from tests.fakes import Fakes, fake_provider
from tests.helpers import FIXTURES, NOW

ATTEMPTS = 3
# The collector timeout under test: short, so the fault that outlasts it ends quickly. Every
# other fault gets a generous one, so that a loaded machine (two test workers on two cores)
# cannot turn a TLS or truncated-body fault into a timeout.
TIMEOUT_S = 0.5
GENEROUS_TIMEOUT_S = 30.0
REFRESH_TOKEN = "refresh-token-never-logged-0123"
HEALTHY_TOKEN = "healthy-token-never-logged-4567"
HEALTHY_URL = "https://fake.example.test/v1/costs"
MiB = 1024 * 1024
HEALTH_FAMILIES = frozenset(catalog.COLLECTOR_HEALTH)

# Ports of 127.0.0.1 whose requests go out for real in the current phase.
LIVE_PORTS: set[int] = set()
pytestmark = pytest.mark.httpx_mock(
    should_mock=lambda request: request.url.port not in LIVE_PORTS,
    assert_all_responses_were_requested=False,
)


# --- the good answers, per provider ------------------------------------------------------


def fixture(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def answer(body: bytes, status: int = 200, kind: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": kind})


def vercel_good(request: httpx.Request) -> httpx.Response:
    month = request.url.params.get("from", "")[:7]
    name = "charges_current.jsonl" if month == "2026-11" else "charges_previous.jsonl"
    return answer(fixture("vercel", name), kind="application/jsonl")


def supabase_good(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/billing/addons"):
        return answer(fixture("supabase", "addons.json"))
    if path.endswith("/database/query/read-only"):
        tables = b"pg_stat_user_tables" in request.content
        return answer(fixture("supabase", "table_rows.json" if tables else "db_size.json"), 201)
    if path.endswith("/usage.api-counts"):
        return answer(fixture("supabase", "api_counts.json"))
    if path.endswith("/functions"):
        return answer(fixture("supabase", "functions.json"))
    if path.endswith("/functions.combined-stats"):
        return answer(fixture("supabase", "function_stats_send_email.json"))
    return answer(fixture("supabase", "disk_util.json"))


def wasabi_good(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/bucket"):
        return answer(fixture("wasabi", "buckets_current.json"))
    current = request.url.params.get("from") == "2026-11-01"
    return answer(fixture("wasabi", "account_current.json" if current else "empty.json"))


def cloudflare_good(request: httpx.Request) -> httpx.Response:
    path, params = request.url.path, request.url.params
    if path.endswith("/info"):
        return answer(fixture("cloudflare", "info.json"))
    if path.endswith("/graphql"):
        return answer(fixture("cloudflare", "graphql_usage.json"))
    if params.get("page") == "2":
        return answer(fixture("cloudflare", "usage_current_page2.json"))
    if params.get("from") == "2026-10-05":
        return answer(fixture("cloudflare", "usage_current_page1.json"))
    return answer(fixture("cloudflare", "usage_previous.json"))


def cloudflare_ai_gateway_good(request: httpx.Request) -> httpx.Response:
    return answer(fixture("cloudflare_ai_gateway", "month.json"))


def openai_good(request: httpx.Request) -> httpx.Response:
    params = request.url.params
    if request.url.path.endswith("/completions"):
        name = (
            "usage_completions_page2.json" if "page" in params else "usage_completions_page1.json"
        )
    elif "page" in params:
        name = "costs_current_page2.json"
    else:
        name = "costs_previous.json" if "end_time" in params else "costs_current_page1.json"
    return answer(fixture("openai", name))


def anthropic_good(request: httpx.Request) -> httpx.Response:
    second = "page" in request.url.params
    if request.url.path.endswith("/cost_report"):
        return answer(fixture("anthropic", f"cost_report_page{2 if second else 1}.json"))
    return answer(fixture("anthropic", f"usage_messages_page{2 if second else 1}.json"))


def openrouter_good(request: httpx.Request) -> httpx.Response:
    path, params = request.url.path, request.url.params
    if path.endswith("/credits"):
        return answer(fixture("openrouter", "credits.json"))
    if path.endswith("/activity"):
        return answer(fixture("openrouter", "activity.json"))
    if path.endswith("/workspaces"):
        return answer(fixture("openrouter", "workspaces.json"))
    page = {"0": "keys_page1.json", "3": "keys_page2.json"}
    if params.get("workspace_id") == "7c9e6679-7425-40de-944b-e07fc1f90ae7":  # Research
        page = {"0": "keys_research.json"}
    return answer(fixture("openrouter", page.get(params["offset"], "keys_empty.json")))


# --- pages that never end, per paginating provider ----------------------------------------


def wasabi_endless(request: httpx.Request, n: int) -> httpx.Response:
    record = json.loads(fixture("wasabi", "account_current.json"))["Records"][0]
    body = {"PageInfo": {"PageCount": 0}, "Records": [record] * wasabi.PAGE_SIZE}
    return httpx.Response(200, json=body)


def cloudflare_endless(request: httpx.Request, n: int) -> httpx.Response:
    page = int(request.url.params.get("page", "1"))
    info = {"page": page, "per_page": 20, "total_pages": page + 1}
    return httpx.Response(200, json={"success": True, "result": [], "result_info": info})


def cursor_endless(request: httpx.Request, n: int) -> httpx.Response:
    return httpx.Response(200, json={"data": [], "has_more": True, "next_page": f"page_{n}"})


def openrouter_endless(request: httpx.Request, n: int) -> httpx.Response:
    offset = int(request.url.params["offset"])
    keys = [
        {"hash": f"h{offset + i}", "name": f"key-{offset + i}", "usage_monthly": 1}
        for i in range(3)
    ]
    return httpx.Response(200, json={"data": keys})


# --- pages whose paging info cannot be read, per paginating provider --------------------


def cursorless(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": [], "has_more": True, "next_page": None})


def cursor_of_the_wrong_type(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": [], "has_more": True, "next_page": 2})


def cloudflare_unreadable(request: httpx.Request) -> httpx.Response:
    info = {"page": "one", "per_page": 20, "total_pages": 2}
    return httpx.Response(200, json={"success": True, "result": [], "result_info": info})


def wasabi_unreadable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"PageInfo": {"PageCount": "many"}, "Records": []})


def openrouter_unreadable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": [], "total_count": "many"})


@dataclass(frozen=True)
class Api:
    """One provider as the matrix sees it: config, secrets, good answers, paging."""

    name: str
    base_path: str
    account: dict[str, Any]
    env: dict[str, str]
    good: Callable[[httpx.Request], httpx.Response]
    paged: str | None = None
    """A path ending of the endpoint that pages; None when the provider never pages."""
    endless: Callable[[httpx.Request, int], httpx.Response] | None = None
    max_pages: Callable[[], int] = lambda: http_client.MAX_PAGES
    unreadable_paging: tuple[str, Callable[[httpx.Request], httpx.Response]] | None = None
    """(path ending, answer): a page of that endpoint whose paging info cannot be read."""
    streamed: bool = False
    """The body is streamed line by line: a cut after the start is not retried."""
    empty_is_valid: bool = False
    """An empty 200 is a valid answer even after a good collection of the same month (an
    answer that loses a month's charges is an `empty` error, whatever the provider)."""

    @property
    def secrets(self) -> set[str]:
        return {v for k, v in self.env.items() if "TOKEN" in k or "KEY" in k}


APIS = {
    api.name: api
    for api in (
        Api(
            "vercel",
            "",
            {},
            {"VERCEL_API_TOKEN": "vercel-secret-0123456789abcdef"},
            vercel_good,
            streamed=True,
        ),
        Api(
            "supabase",
            "",
            {"project_refs": ["abcdefghijklmnopqrst"], "plan": "pro"},
            {"SUPABASE_ACCESS_TOKEN": "sbp_secret0123456789abcdef0123456789abcdef"},
            supabase_good,
        ),
        Api(
            "wasabi",
            "",
            {"inventory": False},
            {
                "WASABI_ACCESS_KEY": "WASABISECRETACCESSKEY01",
                "WASABI_SECRET_KEY": "wasabi-secret-key-0123456789abcdef",
            },
            wasabi_good,
            paged="/utilizations",
            endless=wasabi_endless,
            max_pages=lambda: wasabi.MAX_PAGES,
            unreadable_paging=("/utilizations", wasabi_unreadable),
        ),
        Api(
            "cloudflare",
            "/client/v4",
            {"account_id": "023e105f4ecef8ad9ca31a8372d0c353"},
            {"CLOUDFLARE_API_TOKEN": "cf-secret-token-0123456789abcdef"},
            cloudflare_good,
            paged="/billable-usage",
            endless=cloudflare_endless,
            unreadable_paging=("/billable-usage", cloudflare_unreadable),
        ),
        Api(
            "cloudflare_ai_gateway",
            "/client/v4",
            {"account_id": "023e105f4ecef8ad9ca31a8372d0c353", "metadata_keys": ["feature"]},
            {"CLOUDFLARE_AI_GATEWAY_API_TOKEN": "cf-aig-secret-token-0123456789abcdef"},
            cloudflare_ai_gateway_good,
        ),
        Api(
            "openai",
            "/v1",
            {},
            {"OPENAI_ADMIN_KEY": "sk-admin-secret-0123456789abcdef"},
            openai_good,
            paged="/organization/costs",
            endless=cursor_endless,
            unreadable_paging=("/organization/costs", cursorless),
        ),
        Api(
            "anthropic",
            "",
            {},
            {"ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-secret-0123456789abcdef"},
            anthropic_good,
            paged="/cost_report",
            endless=cursor_endless,
            unreadable_paging=("/cost_report", cursor_of_the_wrong_type),
        ),
        Api(
            "openrouter",
            "/api/v1",
            {},
            {"OPENROUTER_API_KEY": "sk-or-v1-secret-0123456789abcdef"},
            openrouter_good,
            paged="/keys",
            endless=openrouter_endless,
            max_pages=lambda: openrouter.MAX_KEY_PAGES,
            unreadable_paging=("/workspaces", openrouter_unreadable),
        ),
    )
}


# --- the faults ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    reason: str
    says: str
    """A fragment of the logged error: what happened, in words."""
    retried: bool = False
    real: str | None = None
    """`refused`, `tls` or `truncated`: a real socket instead of pytest-httpx."""


FAULTS = {
    fault.name: fault
    for fault in (
        Fault("connection_refused", "connection", "connection failed", True, real="refused"),
        Fault("dns_failure", "connection", "connection failed (ConnectError)", True),
        Fault("tls_error", "connection", "connection failed", True, real="tls"),
        Fault("protocol_error", "connection", "connection failed (RemoteProtocolError)", True),
        Fault("read_timeout", "timeout", "timed out", True),
        Fault("http_401", "auth", "HTTP 401"),
        Fault("http_403", "auth", "HTTP 403"),
        Fault("http_404", "http_4xx", "HTTP 404"),
        Fault("http_429_retry_after", "rate_limited", "HTTP 429", True),
        Fault("http_429_no_retry_after", "rate_limited", "HTTP 429", True),
        Fault("http_500", "http_5xx", "HTTP 500", True),
        Fault("http_502", "http_5xx", "HTTP 502", True),
        Fault("http_503", "http_5xx", "HTTP 503", True),
        Fault("truncated_body", "connection", "RemoteProtocolError", True, real="truncated"),
        Fault("invalid_json", "parse", ""),
        Fault("wrong_shape", "parse", ""),
        Fault("empty_200", "empty", "empty"),
        Fault("huge_body", "parse", "larger than 32 MiB"),
        Fault("bad_content_encoding", "parse", "does not decode"),
        Fault("endless_cursor", "parse", "pages, giving up"),
        Fault("unreadable_paging", "parse", "unreadable paging"),
        Fault("slower_than_timeout", "timeout", "collection timed out"),
    )
}
STREAMED_SAYS = {
    "invalid_json": "FOCUS record",
    "wrong_shape": "FOCUS record",
    "huge_body": "a line longer than",
    "truncated_body": "stream cut",
}


class Chunks(httpx.AsyncByteStream):
    """A body produced as it is read: `count` times `chunk`, never held whole."""

    def __init__(self, chunk: bytes, count: int = 1) -> None:
        self.chunk, self.count = chunk, count

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            yield self.chunk


def faulty_answer(fault: Fault, api: Api, request: httpx.Request, secret: str) -> httpx.Response:
    """What the provider under test answers while `fault` is on (pytest-httpx faults)."""
    name = fault.name
    if name == "dns_failure":
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)
    if name == "protocol_error":
        raise httpx.RemoteProtocolError("illegal status line: b'SSH-2.0'", request=request)
    if name == "read_timeout":
        raise httpx.ReadTimeout("The read operation timed out", request=request)
    if name.startswith("http_"):
        status = int(name.split("_")[1])
        headers = {"Retry-After": "1"} if name == "http_429_retry_after" else {}
        return httpx.Response(status, headers=headers, json={"error": f"bad key {secret}"})
    if name == "invalid_json":
        return answer(f"<html><body>502 upstream {secret}".encode(), kind="text/html")
    if name == "wrong_shape":
        if api.streamed:
            return answer(json.dumps({"BilledCost": secret}).encode() + b"\n")
        keys = ("data", "Records", "result", "success", "selected_addons", "metrics")
        return httpx.Response(200, json=dict.fromkeys(keys, secret))
    if name == "empty_200":
        return answer(b"")
    if name == "huge_body":
        return httpx.Response(200, stream=Chunks(b"x" * MiB, 48))
    if name == "bad_content_encoding":
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return httpx.Response(200, headers=headers, stream=Chunks(b"this is not gzip " * 20))
    raise AssertionError(f"no simulated answer for {name}")


# --- real sockets: refused, TLS, truncated ------------------------------------------------


class _Truncating(socketserver.BaseRequestHandler):
    """Reads whatever comes (an HTTP request or a TLS hello), answers a cut response."""

    def handle(self) -> None:
        self.request.settimeout(2)
        try:
            self.request.recv(65536)
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 4096\r\n\r\n" + b'{"data": [{"amount": '
            )
        except OSError:
            pass


@pytest.fixture(scope="module")
def truncating_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Truncating)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- one world: the fake endpoints, counted ------------------------------------------------


@dataclass
class World:
    api: Api
    fault: Fault | None = None
    paged_requests: int = 0

    @property
    def secret(self) -> str:
        return sorted(self.api.secrets)[0]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        fault = self.fault
        if fault is None:
            return self.api.good(request)
        if fault.name == "slower_than_timeout":
            await asyncio.sleep(30)
        if fault.name == "endless_cursor":
            assert self.api.paged and self.api.endless
            if not request.url.path.endswith(self.api.paged):
                return self.api.good(request)
            self.paged_requests += 1
            return self.api.endless(request, self.paged_requests)
        if fault.name == "unreadable_paging":
            assert self.api.unreadable_paging
            path, unreadable = self.api.unreadable_paging
            if not request.url.path.endswith(path):
                return self.api.good(request)
            self.paged_requests += 1
            return unreadable(request)
        return faulty_answer(fault, self.api, request, self.secret)


def base_url(api: Api, fault: Fault, truncating: int) -> str:
    if fault.real == "refused":
        return f"http://127.0.0.1:{closed_port()}{api.base_path}"
    scheme = "https" if fault.real == "tls" else "http"
    return f"{scheme}://127.0.0.1:{truncating}{api.base_path}"


@dataclass
class Harness:
    refresher: Refresher
    client: httpx.AsyncClient
    log: io.StringIO
    secrets: set[str]
    requests: Counter[str]
    """Requests sent, by host (`faulty` for the provider under test on 127.0.0.1)."""
    texts: dict[str, str] = field(default_factory=dict)

    async def refresh(self) -> dict[str, Any]:
        response = await self.client.post(
            "/refresh", headers={"Authorization": f"Bearer {REFRESH_TOKEN}"}
        )
        assert response.status_code == 200, response.text
        self.texts[f"refresh payload {len(self.texts)}"] = response.text
        return {a["provider"]: a for a in response.json()["accounts"]}

    async def pages(self) -> dict[str, str]:
        found = {}
        for path in ("/metrics", "/", "/healthz"):
            response = await self.client.get(path)
            assert response.status_code == 200, (path, response.text)
            found[path] = response.text
        self.texts.update(found)
        return found

    def values(self, provider: str) -> dict[tuple[str, tuple[str, ...]], Decimal]:
        """Every published value of `provider` except the health families."""
        series = derive(self.refresher.snapshot, self.refresher.config, NOW)
        return {
            (family.name, labels): value
            for family, by_labels in series.items()
            if family not in HEALTH_FAMILIES and "provider" in family.labels
            for labels, value in by_labels.items()
            if labels[family.labels.index("provider")] == provider
        }

    def failures(self) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.log.getvalue().splitlines() if line]
        return [line for line in lines if line["event"] == "collection_failed"]

    def assert_no_secret_anywhere(self) -> None:
        state = self.refresher.state_path
        texts = {
            **self.texts,
            "logs": self.log.getvalue(),
            "errors": " ".join(
                s.last_error or "" for s in self.refresher.snapshot.accounts.values()
            ),
            "snapshot file": state.read_text() if state.exists() else "",
        }
        for where, text in texts.items():
            for secret in self.secrets:
                assert secret not in text, f"a secret leaked into {where}"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Builds the two-provider exporter; the fake provider stays registered meanwhile."""
    opened: list[Any] = []

    async def build(
        provider: str,
        account: dict[str, Any],
        env: dict[str, str],
        timeout_s: float = GENEROUS_TIMEOUT_S,
    ) -> Harness:
        path = tmp_path / "config.yml"
        accounts = {"fake": [{"account": "healthy", "token_env": "FAKE_TOKEN"}]}
        path.write_text(
            yaml.safe_dump(
                {"fx_rates": {"EUR": "1.1"}, "providers": {**accounts, provider: [account]}}
            )
        )
        env = {"FAKE_TOKEN": HEALTHY_TOKEN, **env}
        config = load_config(env, path, {n: s.env_spec() for n, s in REGISTRY.items()})
        settings = load_exporter_settings(
            {
                "COST_STATE_DIR": str(tmp_path / "state"),
                "COST_COLLECTOR_TIMEOUT_S": str(timeout_s),
                "COST_REFRESH_MIN_INTERVAL_S": "0",
                "COST_REFRESH_TOKEN": REFRESH_TOKEN,
            }
        )
        secrets = {*config.secrets, REFRESH_TOKEN}
        logs.REDACT.set_secrets(secrets)
        stream = io.StringIO()
        logs.configure("info", "json", stream=stream)
        requests: Counter[str] = Counter()

        async def count(request: httpx.Request) -> None:
            host = request.url.host
            requests["faulty" if host == "127.0.0.1" else host] += 1

        raw = httpx.AsyncClient(timeout=5, event_hooks={"request": [count]})
        # No request-rate windows: a fault here must end the way the fault does (an endless
        # cursor at the page limit), not at a provider's budget (tests/test_rate_limits.py).
        http = HttpClient(
            raw, retry=RetryPolicy(ATTEMPTS, initial_wait_s=0, max_wait_s=0), budgets={}
        )
        refresher = Refresher(settings, config, http, clock=lambda: NOW)
        app = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(refresher, run_scheduler=False)),
            base_url="http://exporter",
        )
        opened.extend([http, app])
        return Harness(refresher, app, stream, secrets, requests)

    yield build
    for thing in reversed(opened):
        await thing.aclose()


@pytest.fixture
def healthy(httpx_mock: HTTPXMock) -> Iterator[Fakes]:
    with fake_provider() as fakes:
        fakes.calls_http("healthy")
        httpx_mock.add_callback(
            lambda _request: httpx.Response(200, json={"total": 10}),
            url=HEALTHY_URL,
            is_reusable=True,
        )
        yield fakes


# --- the matrix ------------------------------------------------------------------------------


def cases() -> Iterator[Any]:
    for provider, api in APIS.items():
        for name, fault in FAULTS.items():
            if name == "endless_cursor" and api.paged is None:
                continue  # nothing pages: no cursor to loop on
            if name == "unreadable_paging" and api.unreadable_paging is None:
                continue  # no paging info to misread
            yield pytest.param(api, fault, id=f"{provider}-{name}")


def expected_requests(api: Api, fault: Fault) -> int:
    if fault.name == "endless_cursor":
        return api.max_pages()
    if fault.name == "empty_200" and api.streamed:
        # An empty stream is a valid answer to Vercel: both months are read, then the core
        # finds that this month lost the charges it had.
        return 2
    if fault.retried and not (api.streamed and fault.name == "truncated_body"):
        return ATTEMPTS
    return 1


@pytest.mark.parametrize(("api", "fault"), list(cases()))
async def test_a_failing_provider_is_counted_and_keeps_its_values_while_the_other_is_untouched(
    api: Api,
    fault: Fault,
    harness: Callable[..., Any],
    healthy: Fakes,
    httpx_mock: HTTPXMock,
    truncating_port: int,
) -> None:
    world = World(api)
    httpx_mock.add_callback(
        world.handle, url=re.compile(r"https?://127\.0\.0\.1:\d+/.*"), is_reusable=True
    )
    account = {
        "account": "faulty",
        "base_url": base_url(api, fault, truncating_port),
        **api.account,
    }
    timeout_s = TIMEOUT_S if fault.name == "slower_than_timeout" else GENEROUS_TIMEOUT_S
    h: Harness = await harness(api.name, account, api.env, timeout_s)
    h.secrets |= api.secrets

    first = await h.refresh()
    assert first[api.name]["ok"] and first["fake"]["ok"], (first, h.log.getvalue()[-2000:])
    good_values, healthy_values = h.values(api.name), h.values("fake")
    assert good_values, "the good collection gave the provider under test no series"

    h.requests.clear()
    world.fault = fault
    if fault.real:
        LIVE_PORTS.add(httpx.URL(account["base_url"]).port or 0)
    huge = fault.name == "huge_body"
    if huge:
        tracemalloc.start()
    try:
        second = await h.refresh()
    finally:
        LIVE_PORTS.clear()
        peak = tracemalloc.get_traced_memory()[1] if huge else 0
        tracemalloc.stop()
    pages = await h.pages()

    # The healthy provider: collected again, same values, up.
    assert second["fake"]["ok"]
    assert h.values("fake") == healthy_values
    assert h.requests["fake.example.test"] == 1
    state = h.refresher.snapshot.accounts[(api.name, "faulty")]
    if fault.name == "empty_200" and api.empty_is_valid:
        assert second[api.name]["ok"], "an empty answer is a valid empty month here"
        assert not h.failures()
        h.assert_no_secret_anywhere()
        return

    # The failing provider: last good values kept, down, one error of the right reason.
    assert not second[api.name]["ok"]
    assert second[api.name]["reason"] == fault.reason, state.last_error
    assert h.values(api.name) == good_values
    assert not state.up
    assert {r: n for r, n in state.errors.items() if n} == {fault.reason: 1}
    metrics = pages["/metrics"]
    assert f'cost_collector_up{{account="faulty",provider="{api.name}"}} 0.0' in metrics
    assert (
        f'cost_collector_errors_total{{account="faulty",provider="{api.name}",'
        f'reason="{fault.reason}"}} 1.0'
    ) in metrics
    assert 'cost_collector_up{account="healthy",provider="fake"} 1.0' in metrics

    # It says what happened, in one line, without a secret.
    [failure] = h.failures()
    says = STREAMED_SAYS.get(fault.name, fault.says) if api.streamed else fault.says
    assert failure["provider"] == api.name and failure["reason"] == fault.reason
    assert says in failure["error"], failure["error"]
    h.assert_no_secret_anywhere()

    # Bounded: requests, pages and memory.
    made = h.requests["faulty"]
    if fault.name == "endless_cursor":
        assert world.paged_requests == api.max_pages() <= 1000
        assert made <= world.paged_requests + 3
    elif fault.name == "unreadable_paging":
        assert world.paged_requests == 1  # refused at once: no retry, no guessed next page
        assert made <= world.paged_requests + 3
    else:
        assert made == expected_requests(api, fault)
    if huge:
        assert peak < 40 * MiB, f"the 48 MiB body was held whole ({peak / MiB:.0f} MiB peak)"


def test_every_http_provider_in_the_registry_is_in_the_matrix() -> None:
    http = {
        name
        for name, spec in REGISTRY.items()
        if "base_url" in spec.config_model.model_fields and name != "fake"
    }
    assert http == set(APIS)


# --- the FOCUS import's local folder ---------------------------------------------------------

FOCUS_FAULTS = {
    "missing_folder": ("config", "does not exist"),
    "unreadable_file": ("config", "cannot read"),
    "not_a_focus_csv": ("parse", "not a FOCUS file"),
    "corrupt_gzip": ("parse", "unreadable"),
}


@pytest.mark.parametrize("fault", list(FOCUS_FAULTS))
async def test_a_failing_focus_folder_is_counted_and_keeps_its_values(
    fault: str,
    harness: Callable[..., Any],
    healthy: Fakes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    csv = folder / "ovh.csv"
    csv.write_bytes((FIXTURES / "focus" / "ovhcloud_focus_1_0.csv").read_bytes())
    h: Harness = await harness("focus", {"account": "faulty", "path": str(folder)}, {})
    assert (await h.refresh())["focus"]["ok"]
    good_values, healthy_values = h.values("ovhcloud"), h.values("fake")
    assert good_values

    if fault == "missing_folder":
        csv.unlink()
        folder.rmdir()
    elif fault == "unreadable_file":
        csv.chmod(0)  # root reads it anyway: refuse it the way the kernel would
        real = Path.read_bytes

        def refuse(path: Path) -> bytes:
            if path == csv:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(Path, "read_bytes", refuse)
    elif fault == "not_a_focus_csv":
        csv.write_text("Date,Amount\n2026-11-02,10.00\n")
    else:
        csv.unlink()
        (folder / "ovh.csv.gz").write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")

    second = await h.refresh()
    await h.pages()
    reason, says = FOCUS_FAULTS[fault]
    assert second["fake"]["ok"] and h.values("fake") == healthy_values
    assert second["focus"]["reason"] == reason
    assert h.values("ovhcloud") == good_values
    state = h.refresher.snapshot.accounts[("focus", "faulty")]
    assert not state.up and {r: n for r, n in state.errors.items() if n} == {reason: 1}
    [failure] = h.failures()
    assert says in failure["error"], failure["error"]
    h.assert_no_secret_anywhere()


# --- the client's own limits, one by one ----------------------------------------------------

URL = "https://api.example.test/v1/things"


async def test_a_declared_content_length_past_the_limit_is_refused_unread(
    httpx_mock: HTTPXMock,
) -> None:
    stream = Chunks(b"x" * 1024, 4)
    httpx_mock.add_response(url=URL, headers={"Content-Length": "4096"}, stream=stream)
    http = HttpClient(retry=RetryPolicy(1, 0, 0), max_response_bytes=1024)
    with pytest.raises(CollectorError, match="larger than 1024 bytes") as caught:
        await http.get_json(URL)
    assert caught.value.reason == "parse"
    await http.aclose()


async def test_a_gzip_bomb_is_counted_after_decompression(httpx_mock: HTTPXMock) -> None:
    import gzip

    bomb = gzip.compress(b"0" * (8 * MiB))
    httpx_mock.add_response(url=URL, headers={"Content-Encoding": "gzip"}, stream=Chunks(bomb))
    http = HttpClient(retry=RetryPolicy(1, 0, 0), max_response_bytes=MiB)
    with pytest.raises(CollectorError, match="larger than 1 MiB") as caught:
        await http.get_json(URL)
    assert caught.value.reason == "parse"
    await http.aclose()


async def test_a_repeating_cursor_stops_at_the_second_time_it_is_seen(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=re.compile(f"{URL}.*"), json={"next": "same"}, is_reusable=True)
    http = HttpClient(retry=RetryPolicy(1, 0, 0))
    with pytest.raises(CollectorError, match="cursor repeats") as caught:
        async for _page in http.paginate(URL, params={}, next_cursor=lambda p: p["next"]):
            pass
    assert caught.value.reason == "parse"
    assert len(httpx_mock.get_requests()) == 2
    await http.aclose()


async def test_a_page_without_a_readable_cursor_is_a_parse_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, json=[1, 2, 3])
    http = HttpClient(retry=RetryPolicy(1, 0, 0))
    with pytest.raises(CollectorError, match="unreadable paging") as caught:
        async for _page in http.paginate(URL, params={}, next_cursor=lambda p: p.get("next")):
            pass
    assert caught.value.reason == "parse"
    await http.aclose()


@pytest.mark.parametrize("cursor", [2, 2.5, True, ["p2"], {"after": "p2"}], ids=repr)
async def test_a_cursor_that_is_not_a_string_is_a_parse_error(
    httpx_mock: HTTPXMock, cursor: Any
) -> None:
    httpx_mock.add_response(url=URL, json={"next": cursor})
    http = HttpClient(retry=RetryPolicy(1, 0, 0))
    with pytest.raises(CollectorError, match="unreadable paging") as caught:
        async for _page in http.paginate(URL, params={}, next_cursor=lambda p: p["next"]):
            pass
    assert caught.value.reason == "parse"
    assert len(httpx_mock.get_requests()) == 1
    await http.aclose()


async def test_streamed_lines_keep_crlf_blank_and_unterminated_lines_apart(
    httpx_mock: HTTPXMock,
) -> None:
    body = Chunks(b'{"a":1}\r\n\n{"a"', 1)
    httpx_mock.add_response(url=URL, stream=body)
    http = HttpClient(retry=RetryPolicy(1, 0, 0))
    assert [line async for line in http.iter_lines(URL)] == ['{"a":1}', "", '{"a"']
    await http.aclose()


def test_a_retry_after_that_is_not_a_finite_number_is_ignored() -> None:
    for value in ("inf", "nan", "-inf", "1e999"):
        assert http_client.parse_retry_after(value) is None


async def test_a_collection_never_retries_past_the_policy_even_when_every_call_fails(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=URL, status_code=503, is_reusable=True)
    http = HttpClient(retry=RetryPolicy(4, 0, 0))
    ctx = Context(http=http, now=NOW)
    with pytest.raises(CollectorError, match="HTTP 503") as caught:
        await ctx.http.get_json(URL)
    assert caught.value.reason == "http_5xx"
    assert len(httpx_mock.get_requests()) == 4
    await http.aclose()
