"""Operations: the gateway's own liveness/readiness/metrics, and ``/health`` of everything."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from mes_platform.health import health_router

from ..deps import ServicesDep

__all__ = ["TAGS", "router"]

TAGS = [{"name": "operations", "description": "Health and metrics, without authentication."}]


class Liveness(BaseModel):
    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    service: str
    checks: dict[str, Literal["ok", "failing"]]


class ServiceHealth(BaseModel):
    status: Literal["ready", "not_ready", "unreachable"]
    checks: dict[str, str]


class HealthReport(BaseModel):
    status: Literal["ready", "degraded"]
    services: dict[str, ServiceHealth]


_EXAMPLE = {
    "status": "degraded",
    "services": {
        "identity": {
            "status": "ready",
            "checks": {"database": "ok", "nats": "ok", "consumers": "ok"},
        },
        "mailbox": {"status": "unreachable", "checks": {}},
    },
}


async def _serving() -> bool:
    # The gateway keeps no state: if it answers, it is ready. /health says more.
    return True


router = APIRouter(tags=["operations"])

# The platform's liveness and readiness routes, declared with the public API's names.
_OWN: dict[str, dict[str, Any]] = {
    "/healthz": {
        "operation_id": "getLiveness",
        "response_model": Liveness,
        "description": "Answers 200 as long as the gateway process serves requests.",
    },
    "/readyz": {
        "operation_id": "getReadiness",
        "response_model": Readiness,
        "description": "The gateway keeps no state: if it answers, it is ready. "
        "`GET /health` says whether the services behind it are.",
        "responses": {503: {"description": "Not ready", "model": Readiness}},
    },
}
# /metrics is added by create_app: on a port of its own, or (outside production) on this one.
for _route in health_router("gateway", {"gateway": _serving}, metrics=False).routes:
    if isinstance(_route, APIRoute):
        router.add_api_route(
            _route.path,
            _route.endpoint,
            methods=sorted(_route.methods or ()),
            summary=_route.summary,
            **_OWN[_route.path],
        )


@router.get(
    "/health",
    operation_id="getHealth",
    summary="Readiness of every service behind the gateway",
    response_model=HealthReport,
    responses={
        200: {"description": "Every service is ready"},
        503: {
            "description": "At least one service is not ready or unreachable",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/HealthReport"},
                    "example": _EXAMPLE,
                }
            },
        },
    },
)
async def health(services: ServicesDep) -> JSONResponse:
    """Asks every service's `/readyz` at once (2 s each); 200 if all ready, else 503.
    `conversation_reads` is reported when the conversations' reads have a process of their
    own, `mailbox_delivery` when the mailbox's delivery does (`MES_GATEWAY_MAILBOX_DELIVERY_URL`):
    while it is down, sends are still accepted but nothing reaches the mailboxes."""
    targets = tuple(services.settings.service_urls)
    results = await asyncio.gather(*(services.readiness(name) for name in targets))
    ready = all(ok for ok, _ in results)
    report = HealthReport(
        status="ready" if ready else "degraded",
        services={
            name: ServiceHealth(**body) for name, (_, body) in zip(targets, results, strict=True)
        },
    )
    return JSONResponse(report.model_dump(mode="json"), status_code=200 if ready else 503)
