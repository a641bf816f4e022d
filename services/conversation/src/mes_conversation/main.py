"""Composition root of the conversation service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from mes_platform.clients import internal_client
from mes_platform.group_commit import CommitGroup
from mes_platform.runtime import ServiceRuntime, add_routes, create_service_app

from .adapters.directory import DirectoryUpdates, HttpMailboxDirectory
from .adapters.identity import HttpPatientResolver, PatientUpdates
from .adapters.queries import SqlConversationReader
from .adapters.uow import SqlConversationUnitOfWork
from .entrypoints.internal_api import router as internal_router
from .service.common import Limits
from .service.health_actors import HealthActorMessages
from .service.idle import IdleCloser
from .service.patients import PatientMessages
from .service.ports import MailboxDirectory, PatientResolver
from .service.queries import ConversationQueries
from .settings import ConversationSettings

__all__ = ["create_app"]


def create_app(
    settings: ConversationSettings | None = None,
    *,
    resolver: PatientResolver | None = None,
    directory: MailboxDirectory | None = None,
) -> FastAPI:
    """``resolver``/``directory`` replace the HTTP adapters to identity and pharmacy-directory
    (tests pass in-memory fakes, or adapters on an in-process transport)."""
    settings = settings or ConversationSettings()
    runtime = ServiceRuntime(settings, migrations="mes_conversation:migrations")
    token = settings.internal_token.get_secret_value()
    group = (
        CommitGroup(runtime.db, runtime.name, on_commit=runtime.relay.committed)
        if runtime.db.is_sqlite and settings.group_commit
        else None
    )

    def uow() -> SqlConversationUnitOfWork:
        return SqlConversationUnitOfWork(
            runtime.db, "conversation", on_commit=runtime.relay.committed, group=group
        )

    app = create_service_app(
        runtime,
        title="MES conversation service",
        description="Who may write to whom: admission of messages, conversations, [FIN], "
        "non-delivery reports.",
    )
    add_routes(app, internal_router)
    platform_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with platform_lifespan(app), AsyncExitStack() as stack:
            resolver_ = resolver
            if resolver_ is None:
                http_resolver = HttpPatientResolver(
                    internal_client(settings.identity_url, token),
                    cache_seconds=settings.resolution_cache_seconds,
                    unwatched_cache_seconds=settings.resolution_unwatched_cache_seconds,
                )
                stack.push_async_callback(http_resolver.aclose)
                resolver_ = http_resolver
            if isinstance(resolver_, HttpPatientResolver):
                patient_updates = PatientUpdates(runtime.bus, resolver_)
                patient_updates.start()
                stack.push_async_callback(patient_updates.stop)
            directory_ = directory
            if directory_ is None:
                directory_ = HttpMailboxDirectory(
                    internal_client(settings.directory_url, token),
                    cache_seconds=settings.directory_cache_seconds,
                )
                stack.push_async_callback(directory_.aclose)
            if isinstance(directory_, HttpMailboxDirectory):
                updates = DirectoryUpdates(runtime.bus, directory_)
                updates.start()
                stack.push_async_callback(updates.stop)
            limits = Limits(
                settings.max_subject_chars, settings.max_body_chars, settings.max_message_bytes
            )
            app.state.patient_resolver = resolver_
            reader = SqlConversationReader(runtime.db.reading)
            app.state.health_actor_messages = HealthActorMessages(
                uow, reader, resolver_, directory_, limits
            )
            app.state.patient_messages = PatientMessages(uow, reader, resolver_, directory_, limits)
            app.state.conversation_queries = ConversationQueries(reader, resolver_)
            app.state.idle_closer = IdleCloser(
                uow,
                after_seconds=settings.idle_close_after_seconds,
                interval_seconds=settings.idle_check_interval_seconds,
            )
            if settings.idle_close_after_seconds > 0 and settings.background_work:
                app.state.idle_closer.start()
                stack.push_async_callback(app.state.idle_closer.stop)
            yield

    app.router.lifespan_context = lifespan
    return app
