from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform import idempotency
from mes_platform.idempotency import StoredResponse
from mes_platform.uow import UnitOfWork

from ..service.ports import ConcurrentWrite
from .repository import SqlConversationRepository, SqlMessageLog

__all__ = ["SqlConversationUnitOfWork", "SqlIdempotencyStore"]


class SqlIdempotencyStore:
    """Keys are stored in the change's own transaction, so a replay never acts twice."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lookup(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
        return await idempotency.lookup(self.conn, scope, key, fingerprint)

    async def remember(
        self, scope: str, key: str, fingerprint: str, status_code: int, body: object
    ) -> None:
        await idempotency.remember(self.conn, scope, key, fingerprint, status_code, body)


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
