"""The two reference servers the scrape benchmark compares the exporter with.

    python -m bench.serve stock  PORT STATE_DIR CONFIG   # prometheus_client, generate_latest per request
    python -m bench.serve static PORT FILE               # the same bytes, prepared once

Both run under the same uvicorn (same HTTP implementation, event loop, no access
log) as `cost-exporter serve`. `stock` holds the snapshot's series in ordinary
`Gauge`/`Counter` objects, the usual way an exporter is written, and renders
them on every scrape through FastAPI, the exporter's framework. `static` is a
bare ASGI callable: the practical limit of the server.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

TEXT = b"text/plain; version=0.0.4; charset=utf-8"


def stock_app(state_dir: Path, config_file: Path) -> Any:
    from fastapi import FastAPI, Response
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Info,
        generate_latest,
    )

    from bench.data import env_for
    from cost_exporter import __version__, catalog, figures, snapshot
    from cost_exporter.providers import env_specs
    from cost_exporter.settings import load_config

    config = load_config(env_for(), config_file, env_specs())
    restored = snapshot.load(state_dir / "snapshot.json")
    series = figures.derive(restored, config, datetime.now(UTC))
    registry = CollectorRegistry()
    Info(catalog.BUILD_INFO.name, catalog.BUILD_INFO.help, registry=registry).info(
        {"version": __version__}
    )
    for family in catalog.PUBLISHED:
        if family not in series or family is catalog.BUILD_INFO:
            continue
        if family.kind is catalog.Kind.COUNTER:
            counter = Counter(family.name, family.help, list(family.labels), registry=registry)
            for labels, value in series[family].items():
                counter.labels(*labels).inc(float(value))
        else:
            gauge = Gauge(family.name, family.help, list(family.labels), registry=registry)
            for labels, value in series[family].items():
                gauge.labels(*labels).set(float(value))
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def static_app(body: bytes) -> Any:
    headers = [(b"content-type", TEXT), (b"content-length", str(len(body)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: list[str]) -> None:
    kind, port = argv[0], int(argv[1])
    if kind == "stock":
        app = stock_app(Path(argv[2]), Path(argv[3]))
    else:
        app = static_app(Path(argv[2]).read_bytes())
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")


if __name__ == "__main__":
    main(sys.argv[1:])
