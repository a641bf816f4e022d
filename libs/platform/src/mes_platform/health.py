"""``/healthz`` (alive), ``/readyz`` (database and NATS really reachable), ``/metrics``
(Prometheus), on the service's port or on a port of its own (:class:`MetricsServer`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from starlette.responses import Response

__all__ = ["Check", "MetricsServer", "health_router", "metrics_router"]

Check = Callable[[], Awaitable[bool]]


def metrics_router(*, include_in_schema: bool = True) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=include_in_schema)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class MetricsServer:
    """``GET /metrics`` on a port of its own, for the scraper: a public port then serves no
    metrics. Prometheus's own server, on a thread, so a busy event loop never delays a scrape."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server, self._thread = start_http_server(self.port, addr=self.host)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None


def health_router(service: str, checks: dict[str, Check], *, metrics: bool = True) -> APIRouter:
    """``metrics=False`` leaves ``/metrics`` out (served elsewhere, or not at all)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="Readiness: database and NATS reachable")
    async def readyz() -> JSONResponse:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), 2.0)
            except Exception:
                return False

        results = await asyncio.gather(*(run(c) for c in checks.values()))
        report = {
            name: ("ok" if ok else "failing") for name, ok in zip(checks, results, strict=True)
        }
        ready = all(results)
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": service, "checks": report},
            status_code=200 if ready else 503,
        )

    if metrics:
        router.routes.extend(metrics_router().routes)
    return router
