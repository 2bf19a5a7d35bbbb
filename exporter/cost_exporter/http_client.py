"""The one outbound HTTP client every provider shares.

Billing APIs are slow and rate-limited, so the client retries what is worth
retrying (429, 5xx, dropped connections, timeouts) with exponential backoff
and jitter, honours `Retry-After`, and gives up after a bounded number of
attempts. Every failure leaves as a `CollectorError` with a countable reason;
its message names the method, host and path, never headers or query values
that might hold a credential.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from cost_exporter import __version__
from cost_exporter.errors import CollectorError, reason_for_status

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
Params = Mapping[str, Any] | list[tuple[str, Any]] | None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    initial_wait_s: float = 1.0
    max_wait_s: float = 60.0


class _Retryable(Exception):
    def __init__(self, error: CollectorError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def describe(request: httpx.Request) -> str:
    return f"{request.method} {request.url.host}{request.url.path}"


class HttpClient:
    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": f"cost-exporter/{__version__}"},
            follow_redirects=False,
        )
        self.retry = retry or RetryPolicy()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self, url: str, *, params: Params = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return await self.request("GET", url, params=params, headers=headers)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """One request with retries; returns a 2xx response or raises CollectorError."""
        async for attempt in self._retrying():
            with attempt:
                return await self._once(method, url, params, headers, json_body)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def iter_lines(
        self, url: str, *, params: Params = None, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[str]:
        """Stream a line-oriented body (JSONL, CSV) without holding it all in memory.

        Retries apply until the response starts; a stream cut halfway fails
        with reason `connection` rather than yielding a silently short month.
        """
        response: httpx.Response | None = None
        async for attempt in self._retrying():
            with attempt:
                response = await self._once("GET", url, params, headers, None, stream=True)
        assert response is not None
        try:
            async for line in response.aiter_lines():
                yield line
        except httpx.TransportError as exc:
            message = f"{describe(response.request)}: stream cut ({type(exc).__name__})"
            raise CollectorError("connection", message) from None
        finally:
            await response.aclose()

    async def get_json(
        self, url: str, *, params: Params = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        response = await self.get(url, params=params, headers=headers)
        return decode_json(response)

    async def post_json(
        self, url: str, body: Any, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        response = await self.request("POST", url, headers=headers, json_body=body)
        return decode_json(response)

    async def paginate(
        self,
        url: str,
        *,
        params: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        next_cursor: Callable[[Any], str | None],
        cursor_param: str = "page",
        max_pages: int = 1000,
    ) -> AsyncIterator[Any]:
        """Yield each decoded page; `next_cursor(page)` returns the next cursor or None."""
        query = dict(params)
        for _ in range(max_pages):
            page = await self.get_json(url, params=query, headers=headers)
            yield page
            cursor = next_cursor(page)
            if not cursor:
                return
            query[cursor_param] = cursor
        raise CollectorError("parse", f"GET {url}: more than {max_pages} pages, giving up")

    def _retrying(self) -> AsyncRetrying:
        backoff = wait_exponential_jitter(
            multiplier=self.retry.initial_wait_s,
            max=self.retry.max_wait_s,
            jitter=self.retry.initial_wait_s,
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return min(exc.retry_after, self.retry.max_wait_s)
            return float(backoff(state))

        def unwrap(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable):
                raise exc.error from None
            if exc is not None:
                raise exc

        return AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            wait=wait,
            stop=stop_after_attempt(self.retry.max_attempts),
            retry_error_callback=unwrap,
            reraise=False,
        )

    async def _once(
        self,
        method: str,
        url: str,
        params: Params,
        headers: Mapping[str, str] | None,
        json_body: Any,
        *,
        stream: bool = False,
    ) -> httpx.Response:
        request = self._client.build_request(
            method, url, params=params, headers=headers, json=json_body
        )
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise _Retryable(
                CollectorError("timeout", f"{describe(request)}: timed out"), None
            ) from None
        except httpx.TransportError as exc:
            message = f"{describe(request)}: connection failed ({type(exc).__name__})"
            raise _Retryable(CollectorError("connection", message), None) from None
        if response.is_success:
            return response
        if stream:
            await response.aclose()
        error = CollectorError(
            reason_for_status(response.status_code),
            f"{describe(request)}: HTTP {response.status_code}",
        )
        if response.status_code in RETRYABLE_STATUS:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(error, retry_after)
        raise error


def decode_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CollectorError(
            "parse", f"{describe(response.request)}: response is not valid JSON"
        ) from None
