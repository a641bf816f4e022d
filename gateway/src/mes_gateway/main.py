"""Composition root of the gateway: settings, token verification, service clients, routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from mes_platform.health import MetricsServer, metrics_router
from mes_platform.logs import configure_logging
from mes_platform.middleware import BodyLimitMiddleware, RequestContextMiddleware
from mes_platform.problems import install_problem_handlers
from mes_platform.runtime import add_routes, fastapi_telemetry

from .auth import VerifiedTokens, build_verifier, install_auth_handlers
from .docs import install_docs
from .errors import install_unavailable_handler
from .openapi import install_openapi
from .routes import discover_features
from .services import ServiceClients
from .settings import GatewaySettings

__all__ = ["DESCRIPTION", "create_app"]

log = logging.getLogger(__name__)

DESCRIPTION = """\
The public API of MES Messagerie, the secure messaging of *Mon espace santé*.

**Authentication.** Every `/v1` route takes a bearer JWT (`Authorization: Bearer <token>`)
whose `role` is `patient` (claim `ins`), `professional` or `application` (claim `mailboxes`) or
`ops`. In production, tokens come from the identity provider and are checked against its JWKS.

**Getting a development token.** Outside production, `POST /v1/dev/tokens` with e.g.
`{"role": "ops"}` or `{"role": "patient", "ins": "279035121518989"}` returns an
`access_token`; click *Authorize* and paste it.

**Errors** are `application/problem+json` (RFC 9457) with a stable `code`; quote the
`request_id` (also in the `X-Request-ID` header) when reporting an issue.

**Retries.** POSTs that create something honour `Idempotency-Key`: a retry with the same key
returns the first answer and creates nothing more.
"""


def create_app(
    settings: GatewaySettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    extra_routers: Iterable[APIRouter] = (),
) -> FastAPI:
    """``transports`` routes named services to in-process apps (tests); ``extra_routers`` are
    included after the discovered features."""
    settings = settings or GatewaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    services = ServiceClients(settings, transports)
    features = discover_features(production=settings.environment == "production")

    production = settings.environment == "production"
    metrics_server = (
        MetricsServer(settings.host, settings.metrics_port) if settings.metrics_port else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if metrics_server is not None:
            metrics_server.start()
        elif production:
            log.warning("no metrics served: set MES_GATEWAY_METRICS_PORT for the scraper")
        await services.open()
        try:
            yield
        finally:
            await services.aclose()
            if metrics_server is not None:
                metrics_server.stop()

    app = FastAPI(
        telemetry=fastapi_telemetry(settings.opentelemetry),
        title="MES Messagerie API",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=[tag for feature in features for tag in feature.tags],
        swagger_ui_parameters={"persistAuthorization": True},
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.token_verifier = build_verifier(settings)
    app.state.verified_tokens = VerifiedTokens(
        leeway_seconds=settings.jwt_leeway_seconds,
        max_age_seconds=settings.verified_token_cache_seconds,
    )
    install_problem_handlers(app)
    install_auth_handlers(app)
    install_unavailable_handler(app)
    for feature in sorted(features, key=lambda f: not f.matched_first):  # stable
        add_routes(app, feature.router)
    for router in extra_routers:
        add_routes(app, router)
    if metrics_server is None and not production:
        # The public port serves the metrics only where no scraper has a port of its own.
        add_routes(app, metrics_router(include_in_schema=False))
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides=settings.body_limit_overrides,
    )
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service_name,
        log_requests=settings.log_requests,
    )
    install_openapi(app)
    install_docs(app)
    return app
