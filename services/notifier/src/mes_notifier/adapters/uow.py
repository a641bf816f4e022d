from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform.db import Database
from mes_platform.uow import AfterCommit, UnitOfWork

from ..service.planning import Job
from ..service.sent import SentLog
from .repository import SqlNotifierRepository

__all__ = ["NotifierUnitOfWork", "read_side"]


class NotifierUnitOfWork(UnitOfWork):
    """The notifier's unit of work. Once it commits, what the change claimed for this process
    (``hand_over``) goes to the sender's lanes, and ``queued()`` wakes the sender to claim
    what waits: a new notification is sent at once, not at the next poll. Its commit also
    records what the lanes sent meanwhile (``sent``): one commit for both."""

    repo: SqlNotifierRepository

    def __init__(
        self,
        db: Database,
        producer: str,
        on_commit: AfterCommit | None = None,
        wake: Callable[[], None] | None = None,
        handed: Callable[[Sequence[Job]], None] | None = None,
        sent: SentLog | None = None,
    ) -> None:
        super().__init__(db, producer, on_commit)
        self._wake = wake
        self._handed = handed
        self._sent = sent
        self._queued = False
        self._jobs: list[Job] = []

    async def __aenter__(self) -> Self:
        if self._sent is not None:
            self._sent.opened()
        try:
            return await super().__aenter__()
        except BaseException:
            if self._sent is not None:
                self._sent.closed()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            if self._sent is not None:
                self._sent.closed()

    def _open(self, conn: AsyncConnection) -> None:
        self.repo = SqlNotifierRepository(conn)
        self._queued = False
        self._jobs = []

    def queued(self) -> None:
        self._queued = True

    def hand_over(self, jobs: Sequence[Job]) -> None:
        self._jobs.extend(jobs)

    async def commit(self) -> None:
        if self._sent is None:
            await super().commit()
        else:
            carried = await self._sent.write(self.repo)
            try:
                await super().commit()
            except BaseException:
                self._sent.not_committed(carried)
                raise
            self._sent.committed(carried)
        jobs, self._jobs = self._jobs, []
        if jobs and self._handed is not None:
            self._handed(jobs)
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
