"""What every service process runs: database (migrated at start), NATS, outbox relay,
consumers; and the FastAPI app around them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .bus import EventBus
from .consumer import EventConsumer
from .db import Database
from .health import health_router
from .logs import configure_logging
from .middleware import BodyLimitMiddleware, RequestContextMiddleware
from .migrations import upgrade_to_head
from .outbox import OutboxRelay
from .problems import install_problem_handlers
from .settings import ServiceSettings

__all__ = ["ServiceRuntime", "create_service_app"]

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, *, migrations: str) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.migrations = migrations
        self.db = Database(
            settings.resolved_database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.db_pool_size,
        )
        self.bus = EventBus(settings.nats_url, name=f"mes-{self.name}")
        self.relay = OutboxRelay(
            self.db,
            self.bus,
            self.name,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.consumers: list[EventConsumer[Any]] = []
        self._on_start: list[Callable[[], Any]] = []

    def add_consumer(self, consumer: EventConsumer[Any]) -> None:
        self.consumers.append(consumer)

    def on_start(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (sync or async) after migrations, before serving."""
        self._on_start.append(fn)

    async def start(self) -> None:
        await upgrade_to_head(self.db, self.migrations)
        self.db.start_checkpoints()
        for fn in self._on_start:
            result = fn()
            if hasattr(result, "__await__"):
                await result
        self.bus.start()
        if self.settings.background_work:
            self.relay.start()  # else rows committed here wait in the table for the writer's
        for consumer in self.consumers:
            consumer.start()
        log.info("service started", extra={"database": self.db.url.get_backend_name()})

    async def stop(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        await self.relay.stop()
        await self.bus.close()
        await self.db.dispose()
        log.info("service stopped")

    async def consumers_ready(self) -> bool:
        return all(c.ready.is_set() for c in self.consumers)


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str = "",
    routers: Iterable[Any] = (),
    body_limit_overrides: dict[str, int] | None = None,
) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.service_name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(
        health_router(
            settings.service_name,
            {
                "database": runtime.db.ping,
                "nats": runtime.bus.ping,
                "consumers": runtime.consumers_ready,
            },
        )
    )
    for router in routers:
        app.include_router(router)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, overrides=body_limit_overrides
    )
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service_name,
        log_requests=settings.log_requests,
    )
    return app
