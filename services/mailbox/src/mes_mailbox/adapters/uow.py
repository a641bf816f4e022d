from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform.db import Database
from mes_platform.idempotency import SqlIdempotencyStore
from mes_platform.uow import UnitOfWork

from .documents_repository import SqlDocumentRepository
from .repository import SqlAttachmentRepository, SqlMessageRepository

__all__ = ["MailboxUnitOfWork", "ReadRepositories", "read_side"]


class MailboxUnitOfWork(UnitOfWork):
    messages: SqlMessageRepository
    attachments: SqlAttachmentRepository
    documents: SqlDocumentRepository
    idempotency: SqlIdempotencyStore

    def _open(self, conn: AsyncConnection) -> None:
        self.messages = SqlMessageRepository(conn)
        self.attachments = SqlAttachmentRepository(conn)
        self.documents = SqlDocumentRepository(conn)
        self.idempotency = SqlIdempotencyStore(conn)


@dataclass(frozen=True)
class ReadRepositories:
    messages: SqlMessageRepository
    attachments: SqlAttachmentRepository
    documents: SqlDocumentRepository


def read_side(db: Database) -> Callable[[], AbstractAsyncContextManager[ReadRepositories]]:
    """Repositories on a read connection, for queries that change nothing."""

    @asynccontextmanager
    async def open_reading() -> AsyncIterator[ReadRepositories]:
        async with db.reading() as conn:
            yield ReadRepositories(
                SqlMessageRepository(conn),
                SqlAttachmentRepository(conn),
                SqlDocumentRepository(conn),
            )

    return open_reading
