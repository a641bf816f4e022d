"""Composition root of the mailbox service."""

from __future__ import annotations

from fastapi import FastAPI

from mes_platform.consumer import EventConsumer
from mes_platform.runtime import ServiceRuntime, add_routes, create_service_app

from .adapters.blobs import BlobStore
from .adapters.uow import MailboxUnitOfWork, read_side
from .domain.documents import MAX_DOCUMENT_BYTES
from .entrypoints.documents_api import router as documents_router
from .entrypoints.internal_api import router as internal_router
from .service.attachments import AttachmentService
from .service.delivery import DELIVERY_SUBJECTS, deliver, deliver_many
from .service.documents import DocumentService
from .service.mailboxes import MailboxService
from .settings import MailboxSettings

__all__ = ["DELIVERY_DURABLE", "create_app"]

DELIVERY_DURABLE = "mailbox-delivery"
# Multipart framing and the owner field come on top of the file itself.
_UPLOAD_OVERHEAD_BYTES = 1024 * 1024


def create_app(settings: MailboxSettings | None = None) -> FastAPI:
    settings = settings or MailboxSettings()
    runtime = ServiceRuntime(settings, migrations="mes_mailbox:migrations")

    def uow() -> MailboxUnitOfWork:
        return MailboxUnitOfWork(runtime.db, "mailbox", on_commit=runtime.relay.committed)

    if settings.delivery:
        runtime.add_consumer(
            EventConsumer(
                bus=runtime.bus,
                service="mailbox",
                durable=DELIVERY_DURABLE,
                stream="MES_CONVERSATION",
                subjects=DELIVERY_SUBJECTS,
                uow_factory=uow,
                handler=deliver,
                batch_handler=deliver_many,
                max_deliver=settings.consumer_max_deliver,
                batch_size=settings.consumer_batch_size,
                linger_seconds=settings.consumer_linger_seconds,
                ack_wait=settings.consumer_ack_wait_seconds,
            )
        )
    app = create_service_app(
        runtime,
        title="MES mailbox service",
        description="Mailboxes, message copies, read flags and attachments.",
        body_limit_overrides={
            "/internal/attachments": settings.max_message_bytes + _UPLOAD_OVERHEAD_BYTES,
            "/internal/documents": MAX_DOCUMENT_BYTES + _UPLOAD_OVERHEAD_BYTES,
        },
    )
    add_routes(app, internal_router)
    add_routes(app, documents_router)
    reader = read_side(runtime.db)
    app.state.mailboxes = MailboxService(uow, reader)
    blobs = BlobStore(settings.resolved_blob_dir)
    app.state.attachments = AttachmentService(uow, reader, blobs, settings.max_message_bytes)
    app.state.documents = DocumentService(uow, reader, blobs)
    return app
