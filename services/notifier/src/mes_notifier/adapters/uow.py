from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform.db import Database
from mes_platform.uow import AfterCommit, UnitOfWork

from .repository import SqlNotifierRepository

__all__ = ["NotifierUnitOfWork", "read_side"]


class NotifierUnitOfWork(UnitOfWork):
    """The notifier's unit of work; ``queued()`` during the change wakes the senders once it
    commits, so a new notification is sent at once, not at the next poll."""

    repo: SqlNotifierRepository

    def __init__(
        self,
        db: Database,
        producer: str,
        on_commit: AfterCommit | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(db, producer, on_commit)
        self._wake = wake
        self._queued = False

    def _open(self, conn: AsyncConnection) -> None:
        self.repo = SqlNotifierRepository(conn)
        self._queued = False

    def queued(self) -> None:
        self._queued = True

    async def commit(self) -> None:
        await super().commit()
        if self._queued and self._wake is not None:
            self._wake()
        self._queued = False


def read_side(
    db: Database,
) -> Callable[[], AbstractAsyncContextManager[SqlNotifierRepository]]:
    @asynccontextmanager
    async def open_reading() -> AsyncIterator[SqlNotifierRepository]:
        async with db.reading() as conn:
            yield SqlNotifierRepository(conn)

    return open_reading
