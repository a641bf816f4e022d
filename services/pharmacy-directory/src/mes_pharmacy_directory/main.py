"""Composition root of the pharmacy-directory service."""

from __future__ import annotations

from fastapi import FastAPI

from mes_platform.runtime import ServiceRuntime, add_routes, create_service_app

from .adapters.repository import reading_pharmacies, reading_repository
from .adapters.uow import DirectoryUnitOfWork
from .entrypoints.internal_api import router as internal_router
from .entrypoints.pharmacy_api import router as pharmacy_router
from .service.directory import DirectoryService
from .service.pharmacies import PharmacyService
from .service.rate_limits import RateLimiter
from .settings import DirectorySettings

__all__ = ["create_app"]


def create_app(settings: DirectorySettings | None = None) -> FastAPI:
    settings = settings or DirectorySettings()
    runtime = ServiceRuntime(settings, migrations="mes_pharmacy_directory:migrations")

    def uow() -> DirectoryUnitOfWork:
        return DirectoryUnitOfWork(runtime.db, "directory", on_commit=runtime.relay.committed)

    app = create_service_app(
        runtime,
        title="MES pharmacy-directory service",
        description="The MSSanté mailbox directory and pharmacies.",
    )
    add_routes(app, internal_router)
    add_routes(app, pharmacy_router)
    app.state.directory = DirectoryService(uow, lambda: reading_repository(runtime.db))
    app.state.pharmacies = PharmacyService(uow, lambda: reading_pharmacies(runtime.db))
    app.state.rate_limiter = RateLimiter(uow)
    return app
