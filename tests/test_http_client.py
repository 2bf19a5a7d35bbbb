from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cost_exporter.errors import CollectorError
from cost_exporter.http_client import HttpClient, RetryPolicy, parse_retry_after
from tests.helpers import fast_http

URL = "https://api.example.test/v1/things"


async def test_retries_a_500_then_returns_the_good_response(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=500)
    httpx_mock.add_response(url=URL, json={"ok": True})
    http = fast_http()
    assert await http.get_json(URL) == {"ok": True}
    await http.aclose()


async def test_gives_up_after_bounded_attempts_with_reason(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=503, is_reusable=True)
    http = fast_http()
    with pytest.raises(CollectorError) as caught:
        await http.get_json(URL)
    assert caught.value.reason == "http_5xx"
    assert len(httpx_mock.get_requests()) == 3
    await http.aclose()


async def test_401_is_not_retried_and_counts_as_auth(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=401)
    http = fast_http()
    with pytest.raises(CollectorError) as caught:
        await http.get_json(URL, headers={"Authorization": "Bearer sk-very-secret"})
    assert caught.value.reason == "auth"
    assert "sk-very-secret" not in str(caught.value)
    assert len(httpx_mock.get_requests()) == 1
    await http.aclose()


async def test_honours_retry_after_on_429(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=429, headers={"Retry-After": "0"})
    httpx_mock.add_response(url=URL, json=[1])
    http = HttpClient(retry=RetryPolicy(max_attempts=2, initial_wait_s=30, max_wait_s=30))
    # The backoff alone would wait 30 s; Retry-After: 0 makes it immediate.
    assert await http.get_json(URL) == [1]
    await http.aclose()


async def test_429_exhausted_counts_as_rate_limited(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=URL, status_code=429, headers={"Retry-After": "0"}, is_reusable=True
    )
    http = fast_http()
    with pytest.raises(CollectorError) as caught:
        await http.get_json(URL)
    assert caught.value.reason == "rate_limited"
    await http.aclose()


async def test_timeouts_and_connection_errors_are_classified(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), is_reusable=True)
    http = fast_http()
    with pytest.raises(CollectorError) as caught:
        await http.get_json(URL)
    assert caught.value.reason == "timeout"
    httpx_mock.reset()
    httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)
    with pytest.raises(CollectorError) as caught:
        await http.get_json(URL)
    assert caught.value.reason == "connection"
    await http.aclose()


async def test_garbage_body_is_a_parse_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, text='{"data": [1, 2')
    http = fast_http()
    with pytest.raises(CollectorError) as caught:
        await http.get_json(URL)
    assert caught.value.reason == "parse"
    await http.aclose()


async def test_paginate_follows_the_cursor_until_it_ends(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{URL}?limit=2", json={"data": [1, 2], "next_page": "p2"})
    httpx_mock.add_response(url=f"{URL}?limit=2&page=p2", json={"data": [3], "next_page": None})
    http = fast_http()
    pages = [
        page
        async for page in http.paginate(
            URL, params={"limit": 2}, next_cursor=lambda page: page.get("next_page")
        )
    ]
    assert [item for page in pages for item in page["data"]] == [1, 2, 3]
    await http.aclose()


async def test_iter_lines_streams_jsonl(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=URL, status_code=502)
    httpx_mock.add_response(url=URL, text='{"a":1}\n{"a":2}\n')
    http = fast_http()
    lines = [line async for line in http.iter_lines(URL)]
    assert lines == ['{"a":1}', '{"a":2}']
    await http.aclose()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("17") == 17.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
