from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform.idempotency import SqlIdempotencyStore
from mes_platform.uow import UnitOfWork

from ..service.ports import ConcurrentWrite
from .repository import SqlConversationRepository, SqlMessageLog

__all__ = ["SqlConversationUnitOfWork", "SqlIdempotencyStore"]


class SqlConversationUnitOfWork(UnitOfWork):
    conversations: SqlConversationRepository
    messages: SqlMessageLog
    idempotency: SqlIdempotencyStore

    def _open(self, conn: AsyncConnection) -> None:
        self.conversations = SqlConversationRepository(conn)
        self.messages = SqlMessageLog(conn)
        self.idempotency = SqlIdempotencyStore(conn)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        # A unique key taken by a concurrent transaction (same Idempotency-Key, same id):
        # the use case runs again and sees the other's result.
        if isinstance(exc, IntegrityError):
            raise ConcurrentWrite(str(exc.orig)) from exc
