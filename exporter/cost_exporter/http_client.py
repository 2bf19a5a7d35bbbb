"""The one outbound HTTP client every provider shares.

Billing APIs are slow and rate-limited, so the client retries what is worth
retrying (429, 5xx, dropped connections, timeouts) with exponential backoff
and jitter, honours `Retry-After`, and gives up after a bounded number of
attempts. Every failure leaves as a `CollectorError` with a countable reason;
its message names the method, host and path, never headers or query values
that might hold a credential.

Nothing a provider sends can make the exporter unbounded: a buffered body is
read in chunks and refused past `max_response_bytes` (counted after
decompression, so a gzip bomb stops there too), a streamed body is split
into lines of at most `max_line_chars`, and `paginate` stops after
`max_pages` pages or at the first cursor that repeats.

Every request of a provider's collection passes that provider's budget
(`for_provider`): at most `concurrency` requests in flight and, where the
provider documents a rate limit, at most `requests` in any `per_s` seconds,
shared by all its accounts. A request counts from the moment it is sent until
its answer has arrived, so the provider, whenever it counts it, never sees more
than the budget; the defaults (`DEFAULT_BUDGETS`) stay inside each documented
limit, and the config's `rate_limits:` changes them. A request that would wait
longer than `max_budget_wait_s` for the budget fails at once with reason
`rate_limited` instead of being sent.

Paging never leaves a silent gap: a page without paging info is the only
page, but paging info that is there and cannot be read (`has_more: true`
without a cursor, a page number that is not a number) fails with reason
`parse`, so the last good figures stay and `cost_collector_up` says 0. The
two paging styles the providers share (`has_more_cursor`,
`page_number_cursor`) read their fields by that one rule.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
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
MiB = 1024 * 1024
# Far above any billing answer (a month of daily buckets is kilobytes), far below harm.
MAX_RESPONSE_BYTES = 32 * MiB
MAX_LINE_CHARS = 1 * MiB
# 100 pages at the largest page sizes the APIs allow is years of daily buckets.
MAX_PAGES = 100
MAX_CURSOR_CHARS = 4096
# Headers that describe the encoded body; dropped once the body is decoded.
_ENCODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class Budget:
    """How hard the exporter may use one provider's API: at most `concurrency` requests in
    flight and, when `requests` is set, at most `requests` in any `per_s` seconds."""

    concurrency: int = 4
    requests: int | None = None
    per_s: float | None = None


# Each number inside the limit its provider documents (the URL next to it). The fake of
# cost_exporter.demo.providers enforces the documented limits, and a test checks these against them.
DEFAULT_BUDGETS: dict[str, Budget] = {
    # Supabase Management API: 120 requests per minute per user and project or organisation
    # (https://supabase.com/docs/reference/api/introduction#rate-limits; the page once said
    # 60 per minute across all of a user's tokens). 60 a minute keeps inside both readings.
    "supabase": Budget(concurrency=2, requests=60, per_s=60),
    # Cloudflare API: 1200 requests per 5 minutes per user or account token, GraphQL at most
    # 320 per 5 minutes (https://developers.cloudflare.com/fundamentals/api/reference/limits/).
    # The billing and the AI Gateway collectors share it (SHARED_BUDGETS), GraphQL included.
    "cloudflare": Budget(concurrency=4, requests=300, per_s=300),
    # Anthropic Usage & Cost Admin API: "polling once per minute for sustained use", short
    # bursts for paging acceptable (https://docs.anthropic.com/en/api/usage-cost-api, FAQ).
    "anthropic": Budget(concurrency=2, requests=50, per_s=3600),
    # No rate limit documented for the endpoints collected: concurrency only, and a 429's
    # Retry-After is honoured. Vercel /v1/billing/charges (https://vercel.com/docs/limits),
    # OpenAI organization costs/usage (https://platform.openai.com/docs/api-reference/usage),
    # OpenRouter credits/activity/keys ("we govern capacity globally":
    # https://openrouter.ai/docs/api-reference/limits), Wasabi Stats API
    # (https://docs.wasabi.com/docs/wasabi-stats-api).
    "vercel": Budget(concurrency=4),
    "openai": Budget(concurrency=4),
    "openrouter": Budget(concurrency=4),
    "wasabi": Budget(concurrency=4),
}
SHARED_BUDGETS = {"cloudflare_ai_gateway": "cloudflare"}
"""Providers that call another provider's API, and so spend that provider's budget."""
MAX_BUDGET_WAIT_S = 60.0


def budget_name(provider: str) -> str:
    return SHARED_BUDGETS.get(provider, provider)


def budgets(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Budget]:
    """DEFAULT_BUDGETS with the config's `rate_limits:` on top (`concurrency`, `requests`,
    `per_seconds`; keys a provider name). ValueError for a provider that spends another's."""
    merged = dict(DEFAULT_BUDGETS)
    for provider, fields in (overrides or {}).items():
        if provider in SHARED_BUDGETS:
            raise ValueError(
                f"{provider} calls {SHARED_BUDGETS[provider]}'s API and spends its budget: "
                f"set rate_limits.{SHARED_BUDGETS[provider]}"
            )
        budget = merged.get(provider, Budget())
        changes: dict[str, Any] = {}
        if fields.get("concurrency") is not None:
            changes["concurrency"] = int(fields["concurrency"])
        if fields.get("requests") is not None:
            changes["requests"] = int(fields["requests"])
            changes["per_s"] = float(fields["per_seconds"])
        merged[provider] = replace(budget, **changes)
    return merged


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateBudget:
    """One provider's budget, shared by its accounts' requests (see the module docstring)."""

    def __init__(
        self, name: str, budget: Budget, clock: Clock, sleep: Sleep, max_wait_s: float
    ) -> None:
        self.name = name
        self.budget = budget
        self.clock = clock
        self.sleep = sleep
        self.max_wait_s = max_wait_s
        self._slots = asyncio.Semaphore(budget.concurrency)
        self._in_flight = 0
        self._finished: deque[float] = deque()
        """When each request of the current window got its answer, oldest first."""

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._admit()
            try:
                yield
            finally:
                self._in_flight -= 1
                if self.budget.requests is not None:
                    self._finished.append(self.clock())

    async def _admit(self) -> None:
        limit, window = self.budget.requests, self.budget.per_s
        while True:
            if limit is None or window is None:
                self._in_flight += 1
                return
            now = self.clock()
            while self._finished and self._finished[0] <= now - window:
                self._finished.popleft()
            if self._in_flight + len(self._finished) < limit:
                self._in_flight += 1
                return
            # Full: wait until the oldest answer leaves the window (or one in flight ends).
            wait = self._finished[0] + window - now if self._finished else 0.05
            if wait > self.max_wait_s:
                raise CollectorError(
                    "rate_limited",
                    f"{self.name}: the exporter's own budget of {limit} requests per "
                    f"{window:g} s is spent for the next {wait:.0f} s; not sending more",
                )
            await self.sleep(max(wait, 0.001))


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
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class BadPaging(ValueError):
    """Paging info that is present but cannot be read: `paginate` makes it a `parse` error."""


def has_more_cursor(page: Any, *, more: str = "has_more", cursor: str = "next_page") -> str | None:
    """The next cursor of `has_more` + cursor paging (OpenAI, Anthropic), or None at the end.

    Neither field (or both null): a single page. `has_more: false`: the last page,
    whatever the cursor says. `has_more: true` needs a non-empty string cursor;
    without one the rest of the month would be silently missing, so it is `BadPaging`,
    as is a `has_more` that is not a boolean or a cursor with no `has_more` beside it.
    """
    if not isinstance(page, dict):
        raise BadPaging("the page is not an object")
    flag, token = page.get(more), page.get(cursor)
    if flag is None:
        if token is None or token == "":
            return None
        raise BadPaging(f"`{cursor}` without `{more}`")
    if not isinstance(flag, bool):
        raise BadPaging(f"`{more}` is not a boolean")
    if not flag:
        return None
    if not isinstance(token, str) or not token:
        raise BadPaging(f"`{more}` is true but `{cursor}` is not a cursor")
    return token


PAGE_NUMBER_FIELDS = ("page", "total_pages", "per_page", "total_count")


def page_number_cursor(info: Any, items: int | None = None) -> str | None:
    """The next page number of `page`/`total_pages` paging (Cloudflare's v4 `result_info`);
    `items` is the number of records on this page, when the caller can count them.

    No paging info (absent, null, or an object without any of PAGE_NUMBER_FIELDS): a
    single page. Otherwise `page` must be a whole number, and so must what says whether
    another page follows: `total_pages`; else `total_count` / `per_page` rounded up (Cloudflare
    documents `total_pages` as optional); else, with `per_page` alone, a full page (as
    Cloudflare's own SDKs page, until a short one). Anything else is `BadPaging`.
    """
    if info is None:
        return None
    if not isinstance(info, dict):
        raise BadPaging("paging info is not an object")
    if not any(info.get(name) is not None for name in PAGE_NUMBER_FIELDS):
        return None
    page = _whole(info, "page", minimum=1)
    if info.get("total_pages") is not None:
        total = _whole(info, "total_pages", minimum=0)
    elif info.get("total_count") is not None or items is None:
        per_page = _whole(info, "per_page", minimum=1)
        total = -(-_whole(info, "total_count", minimum=0) // per_page)
    else:
        full = items >= _whole(info, "per_page", minimum=1)
        return str(page + 1) if full else None
    return str(page + 1) if page < total else None


def _whole(info: Mapping[str, Any], name: str, *, minimum: int) -> int:
    value = info.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadPaging(f"`{name}` is not a whole number >= {minimum}: {str(value)[:40]!r}")
    return value


def describe(request: httpx.Request) -> str:
    return f"{request.method} {request.url.host}{request.url.path}"


class HttpClient:
    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_line_chars: int = MAX_LINE_CHARS,
        on_request: Callable[[httpx.Request], Awaitable[None]] | None = None,
        budgets: Mapping[str, Budget] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_budget_wait_s: float = MAX_BUDGET_WAIT_S,
    ) -> None:
        """`on_request` sees every request before it is sent (the backfill counts them)."""
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": f"cost-exporter/{__version__}"},
            follow_redirects=False,
            event_hooks={"request": [on_request]} if on_request else None,
        )
        self.retry = retry or RetryPolicy()
        self.max_response_bytes = max_response_bytes
        self.max_line_chars = max_line_chars
        self.budgets = dict(DEFAULT_BUDGETS if budgets is None else budgets)
        self.clock, self.sleep, self.max_budget_wait_s = clock, sleep, max_budget_wait_s
        self._rate_budgets: dict[str, RateBudget] = {}
        self.rate_budget: RateBudget | None = None
        """The budget every request of this client passes: set by `for_provider`."""

    async def aclose(self) -> None:
        await self._client.aclose()

    def for_provider(self, provider: str) -> HttpClient:
        """This client, its requests counted against `provider`'s budget (shared by every
        account of the provider, and by the providers that spend it: SHARED_BUDGETS)."""
        name = budget_name(provider)
        rate_budget = self._rate_budgets.get(name)
        if rate_budget is None:
            budget = self.budgets.get(name, Budget())
            rate_budget = RateBudget(name, budget, self.clock, self.sleep, self.max_budget_wait_s)
            self._rate_budgets[name] = rate_budget
        scoped = copy.copy(self)
        scoped.rate_budget = rate_budget
        return scoped

    def set_budgets(self, budgets: Mapping[str, Budget]) -> None:
        """New budgets (a config reload); a budget that did not change keeps its window."""
        self.budgets = dict(budgets)
        for name, current in list(self._rate_budgets.items()):
            if self.budgets.get(name, Budget()) != current.budget:
                del self._rate_budgets[name]

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
        Memory is bounded by the longest line, which may not pass
        `max_line_chars`; the collection timeout bounds the stream's length.
        """
        response: httpx.Response | None = None
        async for attempt in self._retrying():
            with attempt:
                response = await self._once("GET", url, params, headers, None, stream=True)
        assert response is not None
        where = describe(response.request)
        pending = ""
        try:
            async for text in response.aiter_text():
                *lines, pending = (pending + text).split("\n")
                for line in lines:
                    yield line.removesuffix("\r")
                if len(pending) > self.max_line_chars:
                    message = f"{where}: a line longer than {self.max_line_chars} characters"
                    raise CollectorError("parse", message)
            if pending := pending.removesuffix("\r"):
                yield pending
        except httpx.TransportError as exc:
            raise CollectorError(
                "connection", f"{where}: stream cut ({type(exc).__name__})"
            ) from None
        except httpx.DecodingError:
            raise CollectorError("parse", f"{where}: body does not decode") from None
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
        max_pages: int = MAX_PAGES,
    ) -> AsyncIterator[Any]:
        """Yield each decoded page; `next_cursor(page)` returns the next cursor (a string)
        or None after the last page, and raises `BadPaging` when the page's paging info
        cannot be read.

        Unreadable paging, a cursor that is not a string, a cursor that comes back a
        second time, or more than `max_pages` pages fail with reason `parse`: a server
        stuck in a loop costs a bounded number of requests, never the whole collection
        timeout of them, and a month is never silently cut short.
        """
        query = dict(params)
        parsed = httpx.URL(url)
        where = f"GET {parsed.host}{parsed.path}"
        seen: set[str] = set()
        for _ in range(max_pages):
            page = await self.get_json(url, params=query, headers=headers)
            yield page
            try:
                cursor = next_cursor(page)
            except BadPaging as exc:
                raise CollectorError("parse", f"{where}: unreadable paging ({exc})") from None
            except (AttributeError, KeyError, TypeError, ValueError):
                raise CollectorError("parse", f"{where}: unreadable paging (no cursor)") from None
            if cursor is None or cursor == "":
                return
            if not isinstance(cursor, str):
                message = f"{where}: unreadable paging (a {type(cursor).__name__} cursor)"
                raise CollectorError("parse", message)
            if len(cursor) > MAX_CURSOR_CHARS or cursor in seen:
                raise CollectorError("parse", f"{where}: the page cursor repeats or is garbage")
            seen.add(cursor)
            query[cursor_param] = cursor
        raise CollectorError("parse", f"{where}: more than {max_pages} pages, giving up")

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
            async with self._slot():
                # Always streamed: a body is read only as far as the size limit allows.
                response = await self._client.send(request, stream=True)
                if response.is_success and not stream:
                    return await self._buffered(response)
        except httpx.TimeoutException:
            raise _Retryable(
                CollectorError("timeout", f"{describe(request)}: timed out"), None
            ) from None
        except httpx.TransportError as exc:
            message = f"{describe(request)}: connection failed ({type(exc).__name__})"
            raise _Retryable(CollectorError("connection", message), None) from None
        except httpx.DecodingError:
            message = f"{describe(request)}: body does not decode (bad Content-Encoding)"
            raise CollectorError("parse", message) from None
        if response.is_success:
            return response
        await response.aclose()
        error = CollectorError(
            reason_for_status(response.status_code),
            f"{describe(request)}: HTTP {response.status_code}",
        )
        if response.status_code in RETRYABLE_STATUS:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(error, retry_after)
        raise error

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self.rate_budget is None:
            yield
        else:
            async with self.rate_budget.slot():
                yield

    async def _buffered(self, response: httpx.Response) -> httpx.Response:
        """The response with its decoded body in memory, or CollectorError past the limit."""
        limit = self.max_response_bytes
        where = describe(response.request)
        too_large = CollectorError("parse", f"{where}: response larger than {_size(limit)}")
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large  # refused before a byte of it is read
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
        finally:
            await response.aclose()
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _ENCODING_HEADERS
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=response.request,
            extensions=response.extensions,
        )


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB and limit % MiB == 0 else f"{limit} bytes"


def decode_json(response: httpx.Response) -> Any:
    """The decoded JSON body: an empty body is `empty`, anything unreadable `parse`."""
    where = describe(response.request)
    if not response.content.strip():
        raise CollectorError("empty", f"{where}: HTTP {response.status_code} with an empty body")
    try:
        return response.json()
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise CollectorError("parse", f"{where}: response is not valid JSON") from None
