"""``/healthz`` (alive), ``/readyz`` (database and NATS really reachable), ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

__all__ = ["Check", "health_router"]

Check = Callable[[], Awaitable[bool]]


def health_router(service: str, checks: dict[str, Check]) -> APIRouter:
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

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
