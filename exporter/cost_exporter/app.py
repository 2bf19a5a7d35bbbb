"""The HTTP face: `/metrics`, `POST /refresh`, `/healthz`, the status page and its JSON.

Every handler reads what the refresher already holds; none calls a provider
except `/refresh`, which is single-flight and rate-limited so nobody can make
the exporter hammer a billing API.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from cost_exporter import __version__, statuspage, summary
from cost_exporter.refresher import Refresher


class ForcedRefreshGate:
    """Remembers when a forced refresh last started, to enforce the minimum interval."""

    def __init__(self, min_interval_s: float) -> None:
        self.min_interval_s = min_interval_s
        self.last_started: float | None = None

    def retry_after(self, now: float) -> int:
        if self.last_started is None:
            return 0
        wait = self.last_started + self.min_interval_s - now
        return max(0, math.ceil(wait))


def create_app(refresher: Refresher, *, run_scheduler: bool = True) -> FastAPI:
    gate = ForcedRefreshGate(refresher.settings.refresh_min_interval_s)
    background: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(refresher.run_forever()) if run_scheduler else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    app = FastAPI(
        title="cost-exporter",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        body, content_type, zipped = refresher.rendered.body(
            request.headers.get("accept", ""), request.headers.get("accept-encoding", "")
        )
        headers = {"Vary": "Accept, Accept-Encoding"}
        if zipped:
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=content_type, headers=headers)

    @app.post("/refresh")
    async def refresh(request: Request, provider: str | None = None, wait: bool = True) -> Response:
        if not _authorised(request, refresher):
            return JSONResponse(
                {"error": "a valid bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        providers = None
        if provider is not None:
            configured = {e.provider for e in refresher.config.accounts}
            if provider not in configured:
                return JSONResponse(
                    {
                        "error": f"provider {provider!r} is not configured",
                        "configured": sorted(configured),
                    },
                    status_code=404,
                )
            providers = {provider}
        if not refresher.refreshing:
            retry_after = gate.retry_after(time.monotonic())
            if retry_after > 0:
                return JSONResponse(
                    {
                        "error": "a refresh ran recently; billing APIs are rate-limited",
                        "retry_after_s": retry_after,
                    },
                    status_code=429,
                    headers={"Retry-After": str(retry_after)},
                )
            gate.last_started = time.monotonic()
        # A collection already running means this call waits for it rather than
        # starting a second one in parallel.
        joined = refresher.refreshing
        job = refresher.start(providers)
        if not wait:
            background.add(job)
            job.add_done_callback(background.discard)
            return JSONResponse({"status": "started", "joined": joined}, status_code=202)
        result = await asyncio.shield(job)
        return JSONResponse({"status": "done", "joined": joined, "accounts": result.summary()})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        body, status = health_report(refresher)
        return JSONResponse(body, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    async def status_page() -> HTMLResponse:
        page = statuspage.render(summary.from_refresher(refresher))
        return HTMLResponse(page, headers=statuspage.HEADERS)

    @app.get("/api/summary")
    async def api_summary() -> JSONResponse:
        body = summary.to_json(summary.from_refresher(refresher))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return app


def _authorised(request: Request, refresher: Refresher) -> bool:
    token = refresher.settings.refresh_token
    if token is None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


def health_report(refresher: Refresher) -> tuple[dict[str, Any], int]:
    """Is the data useful? `ok` when every account is fresh, `degraded` when some are
    stale or failing, `unusable` (503) when no account has data at all."""
    now = refresher.clock().timestamp()
    stale_after = 2 * refresher.settings.refresh_interval_s
    accounts = []
    for state in refresher.snapshot.accounts.values():
        fresh = state.last_success is not None and now - state.last_success <= stale_after
        accounts.append(
            {
                "provider": state.provider,
                "account": state.account,
                "up": state.up,
                "fresh": fresh,
                "last_success": state.last_success,
            }
        )
    attempted = any(s.last_attempt is not None for s in refresher.snapshot.accounts.values())
    useful = [a for a in accounts if a["last_success"] is not None]
    if not attempted:
        status, code = "starting", 200
    elif accounts and not useful:
        status, code = "unusable", 503
    elif all(a["fresh"] and a["up"] for a in accounts):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    return {"status": status, "accounts": accounts}, code
