"""Composition root of the identity service."""

from __future__ import annotations

from fastapi import FastAPI

from mes_platform.runtime import ServiceRuntime, add_routes, create_service_app

from .adapters.repository import reading_repository
from .adapters.uow import IdentityUnitOfWork
from .entrypoints.internal_api import router as internal_router
from .service.profiles import ProfileService
from .settings import IdentitySettings

__all__ = ["create_app"]


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(settings, migrations="mes_identity:migrations")

    def uow() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(runtime.db, "identity", on_commit=runtime.relay.committed)

    app = create_service_app(
        runtime,
        title="MES identity service",
        description="Patient profiles and address resolution.",
    )
    add_routes(app, internal_router)
    app.state.profiles = ProfileService(
        uow, lambda: reading_repository(runtime.db), cache_seconds=settings.resolution_cache_seconds
    )
    return app
