"""Composition root of the notifier service: four durable consumers queue notifications from
identity, directory, conversation and mailbox events; the sender delivers them over SMTP and
the push provider; the internal API serves the app's notification centre, devices and the
record operations read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from mes_contracts import EventEnvelope
from mes_platform.consumer import EventConsumer
from mes_platform.runtime import ServiceRuntime, add_routes, create_service_app

from .adapters.fcm import FcmPush
from .adapters.push_log import RecordedPushes
from .adapters.repository import decode_cursor, encode_cursor
from .adapters.smtp import SmtpTransport, relay_tls_context
from .adapters.uow import NotifierUnitOfWork, read_side
from .domain.emails import MailIdentity
from .entrypoints.internal_api import router as internal_router
from .service.centre import NotificationCentre
from .service.intake import (
    CONVERSATION_SUBJECTS,
    DIRECTORY_SUBJECTS,
    IDENTITY_SUBJECTS,
    MAILBOX_SUBJECTS,
    take,
    take_many,
)
from .service.planning import Job, PlanRules
from .service.ports import PushProvider
from .service.sending import NotificationSender, SenderRules
from .settings import NotifierSettings

__all__ = ["CONSUMED", "create_app"]

# (durable, stream, subjects, lingers): one consumer per producing service's stream. Only the
# streams of messages linger to fill their batches; the profiles and the directory entries are
# taken at once, so that an entry changed just before a message is known when the message's
# notification is planned (the streams are not ordered between them).
CONSUMED = (
    ("notifier-identity", "MES_IDENTITY", IDENTITY_SUBJECTS, False),
    ("notifier-directory", "MES_DIRECTORY", DIRECTORY_SUBJECTS, False),
    ("notifier-conversation", "MES_CONVERSATION", CONVERSATION_SUBJECTS, True),
    ("notifier-mailbox", "MES_MAILBOX", MAILBOX_SUBJECTS, True),
)
# What the reference streams wait at most for a batch to fill.
_REFERENCE_LINGER_SECONDS = 0.002


def _push_provider(settings: NotifierSettings) -> PushProvider:
    if settings.push_provider == "fcm":
        assert settings.fcm_credentials_file is not None  # checked by the settings
        return FcmPush(
            settings.fcm_project_id,
            settings.fcm_credentials_file,
            endpoint=settings.fcm_endpoint,
            token_uri=settings.fcm_token_uri,
        )
    return RecordedPushes(settings.push_log_file)


def _sender_rules(settings: NotifierSettings) -> SenderRules:
    return SenderRules(
        plan=PlanRules(
            group_window=timedelta(seconds=settings.group_window_seconds),
            contact_grace=timedelta(seconds=settings.contact_grace_seconds),
            recheck=timedelta(seconds=min(1.0, settings.contact_grace_seconds or 1.0)),
        ),
        retry_first=settings.retry_first_seconds,
        retry_max=settings.retry_max_seconds,
        retry_for=timedelta(seconds=settings.retry_for_seconds),
        lease=timedelta(seconds=settings.lease_seconds),
        poll_seconds=settings.sender_poll_seconds,
        batch_size=settings.sender_batch_size,
        email_lanes=settings.smtp_connections,
        send_timeout=min(settings.smtp_timeout_seconds, settings.lease_seconds / 2),
    )


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    runtime = ServiceRuntime(settings, migrations="mes_notifier:migrations")
    sender: NotificationSender | None = None

    def wake() -> None:
        if sender is not None:
            sender.wake()

    def handed(jobs: Sequence[Job]) -> None:
        if sender is not None:
            sender.hand_over(jobs)

    def uow() -> NotifierUnitOfWork:
        return NotifierUnitOfWork(
            runtime.db,
            "notifier",
            on_commit=runtime.relay.committed,
            wake=wake,
            handed=handed,
            sent=sender.sent if sender is not None else None,
        )

    # What the events queue is claimed in their own transaction and handed to the sender's
    # lanes as it commits.
    async def take_one(uow: NotifierUnitOfWork, event: EventEnvelope) -> None:
        await take(uow, event, sender.claim_new if sender is not None else None)

    async def take_batch(uow: NotifierUnitOfWork, events: Sequence[EventEnvelope]) -> None:
        await take_many(uow, events, sender.claim_new if sender is not None else None)

    for durable, stream, subjects, lingers in CONSUMED:
        runtime.add_consumer(
            EventConsumer(
                bus=runtime.bus,
                service="notifier",
                durable=durable,
                stream=stream,
                subjects=subjects,
                uow_factory=uow,
                handler=take_one,
                batch_handler=take_batch,
                max_deliver=settings.consumer_max_deliver,
                batch_size=settings.consumer_batch_size,
                linger_seconds=(
                    settings.consumer_linger_seconds
                    if lingers
                    else min(settings.consumer_linger_seconds, _REFERENCE_LINGER_SECONDS)
                ),
            )
        )

    tls_context = relay_tls_context(settings.smtp_security, settings.smtp_ca_file)

    def smtp() -> SmtpTransport:
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            timeout=settings.smtp_timeout_seconds,
            tls_context=tls_context,
        )

    identity = MailIdentity(settings.smtp_sender, settings.mail_domain, settings.login_url)
    sender = NotificationSender(
        uow, smtp, _push_provider(settings), identity, _sender_rules(settings)
    )
    app = create_service_app(
        runtime,
        title="MES notifier service",
        description="Notifications, receipts and non-delivery e-mails, pharmacy alerts.",
    )
    add_routes(app, internal_router)
    app.state.centre = NotificationCentre(uow, read_side(runtime.db), encode_cursor, decode_cursor)
    app.state.sender = sender
    if settings.background_work:
        _run_with_app(app, sender)
    return app


def _run_with_app(app: FastAPI, sender: NotificationSender) -> None:
    """The sender runs inside the service's lifespan: after the database is migrated and
    NATS connected, and stopped before they close."""
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app):
            sender.start()
            try:
                yield
            finally:
                await sender.stop()

    app.router.lifespan_context = lifespan
