"""The unit of work: the only place that commits, and it commits the change's events with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts import EventEnvelope
from mes_contracts.events import EventPayload

from .context import current_request_id
from .db import Database
from .group_commit import CommitGroup, GroupMember
from .outbox import OutboxRow, write_events

__all__ = ["AfterCommit", "UnitOfWork"]

AfterCommit = Callable[[Sequence[OutboxRow]], Awaitable[None]]


class UnitOfWork:
    """``async with uow: ...; uow.emit(Payload(...)); await uow.commit()``.

    Subclasses build their repositories on ``self.conn`` in :meth:`_open`. Leaving the block
    without commit rolls everything back, events included. ``on_commit`` receives the outbox
    rows once they are committed (the relay's :meth:`~OutboxRelay.committed`, which publishes
    them at once). Given a ``group`` (SQLite), the unit of work runs in a savepoint of the
    group's shared transaction, and the group writes, commits and hands over the events
    (:mod:`mes_platform.group_commit`).
    """

    def __init__(
        self,
        db: Database,
        producer: str,
        on_commit: AfterCommit | None = None,
        *,
        group: CommitGroup | None = None,
    ) -> None:
        self.db = db
        self.producer = producer
        self._on_commit = on_commit
        self._group = group
        self._member: GroupMember | None = None
        self._conn: AsyncConnection | None = None
        self._events: list[EventEnvelope] = []
        self.committed = False

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        if self._group is not None:
            self._member = await self._group.join()
            self._conn = self._member.conn
        else:
            self._conn = await self.db.engine.connect()
            await self._conn.begin()
        self._events = []
        self.committed = False
        self._open(self._conn)
        return self

    def _open(self, conn: AsyncConnection) -> None:
        """Hook: build repositories on ``conn``."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        member, self._member = self._member, None
        if member is not None:
            await member.rollback()  # nothing to undo once committed
            return
        if conn is None:
            return
        try:
            if not self.committed and conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    def emit(self, payload: EventPayload, *, correlation_id: str | None = None) -> EventEnvelope:
        envelope = EventEnvelope.wrap(
            payload, correlation_id=correlation_id or current_request_id(), producer=self.producer
        )
        self._events.append(envelope)
        return envelope

    @property
    def pending_events(self) -> list[EventEnvelope]:
        return list(self._events)

    async def commit(self) -> None:
        if self._member is not None:
            events, self._events = self._events, []
            await self._member.commit(events)
            self.committed = True
            return
        rows = await write_events(self.conn, self._events)
        await self.conn.commit()
        self.committed = True
        self._events = []
        if rows and self._on_commit is not None:
            await self._on_commit(rows)

    async def rollback(self) -> None:
        if self._member is not None:
            raise RuntimeError("a unit of work in a commit group rolls back by leaving its block")
        await self.conn.rollback()
        self._events = []
