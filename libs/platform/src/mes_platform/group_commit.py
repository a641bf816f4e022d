"""Group commit: the units of work a process runs in the same turn of the event loop share one
SQLite transaction, each in a savepoint of its own, and commit together.

On SQLite a process writes through one connection (:class:`~mes_platform.db.Database`), so its
write transactions already run one after the other; what each one costs beyond its statements
is the ``BEGIN IMMEDIATE``, the ``COMMIT`` (the WAL frames of every page it touched, written
again by the next one), the insert of its outbox rows and their hand-over to the relay. Under
load, requests arrive several to a turn of the event loop: their units of work run back to back
in the open transaction, and the first one's commit, queued behind them on the event loop,
commits them all, writes all their outbox rows in one statement and hands them to the relay in
one call.

What a unit of work sees does not change:

- its savepoint is released when it commits, rolled back when it fails or leaves without
  committing (its statements and events are gone; the others' stay);
- its ``commit()`` returns once the transaction holding it is committed, and raises if that
  commit fails (then every member's does: none of them was committed);
- the next units of work see its writes, as they would after its own commit: a decision taken
  on them commits with them or not at all.

At most ``max_members`` units share a transaction; one at a time runs in it (a lock, free at
once when nothing else runs). PostgreSQL does not use it: its writers run in parallel on a pool
of connections, which one shared transaction would serialise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from mes_contracts import EventEnvelope

from .db import Database
from .metrics import GROUP_COMMIT_MEMBERS, GROUP_COMMITS
from .outbox import OutboxRow, write_events

__all__ = ["CommitGroup", "GroupMember"]

log = logging.getLogger(__name__)

AfterCommit = Callable[[Sequence[OutboxRow]], Awaitable[None]]


class _Transaction:
    """One shared transaction: its connection, the events of the members that committed in
    it, and the outcome of its commit."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.events: list[EventEnvelope] = []
        self.members = 0
        self.committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ended = False


class GroupMember:
    """A unit of work's place in the shared transaction: its connection and its savepoint."""

    def __init__(self, group: CommitGroup, tx: _Transaction, savepoint: AsyncTransaction) -> None:
        self._group = group
        self._tx = tx
        self._savepoint: AsyncTransaction | None = savepoint
        self.conn = tx.conn

    async def commit(self, events: list[EventEnvelope]) -> None:
        """Release the savepoint with ``events`` to publish, then wait for the transaction's
        commit."""
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is None:
            raise RuntimeError("this unit of work has already left its transaction")
        try:
            await savepoint.commit()
            self._tx.events.extend(events)
            self._tx.members += 1
            if self._tx.members >= self._group.max_members:
                await self._group.commit_now(self._tx)
        finally:
            self._group.turn.release()
        # The transaction commits for every member: a member cancelled while it waits leaves
        # the others' commit alone.
        await asyncio.shield(self._tx.committed)

    async def rollback(self) -> None:
        """Leave without committing: the savepoint's statements are undone."""
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is None:
            return
        try:
            await savepoint.rollback()
        finally:
            self._group.turn.release()


class CommitGroup:
    """One per process and write engine (SQLite): see the module's description.

    ``on_commit`` receives the outbox rows of every member once their transaction is committed
    (the relay's :meth:`~mes_platform.outbox.OutboxRelay.committed`).
    """

    def __init__(
        self,
        db: Database,
        service: str,
        *,
        on_commit: AfterCommit | None = None,
        max_members: int = 64,
    ) -> None:
        self.db = db
        self.service = service
        self.on_commit = on_commit
        self.max_members = max_members
        self._turn: asyncio.Lock | None = None
        self._open: _Transaction | None = None
        self._committers: set[asyncio.Task[None]] = set()

    @property
    def turn(self) -> asyncio.Lock:
        """Held by the member running in the transaction, and by its commit."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        return self._turn

    async def join(self) -> GroupMember:
        """A savepoint in the open transaction, or in a new one whose commit is queued on the
        event loop behind the work already there."""
        await self.turn.acquire()
        try:
            tx = self._open
            if tx is None:
                conn = await self.db.engine.connect()
                try:
                    await conn.begin()
                except BaseException:
                    await conn.close()
                    raise
                tx = self._open = _Transaction(conn)
                committer = asyncio.create_task(self._commit_later(tx), name="group-commit")
                self._committers.add(committer)
                committer.add_done_callback(self._committers.discard)
            savepoint = await tx.conn.begin_nested()
        except BaseException:
            self.turn.release()
            raise
        return GroupMember(self, tx, savepoint)

    async def _commit_later(self, tx: _Transaction) -> None:
        async with self.turn:
            if not tx.ended:
                await self.commit_now(tx)

    async def commit_now(self, tx: _Transaction) -> None:
        """Commit ``tx`` (the caller holds the turn); its members' ``commit()`` return, or raise
        what the commit raised."""
        tx.ended = True
        if self._open is tx:
            self._open = None
        rows: list[OutboxRow] = []
        try:
            if tx.members:
                rows = await write_events(tx.conn, tx.events)
                await tx.conn.commit()
            else:
                await tx.conn.rollback()  # every member left without committing
        except BaseException as exc:
            if not tx.committed.done():
                tx.committed.set_exception(exc)
                tx.committed.exception()  # retrieved here: a member may have been cancelled
            log.warning("group commit failed", extra={"error": repr(exc)})
            return
        finally:
            await tx.conn.close()
        if tx.members:
            GROUP_COMMITS.labels(self.service).inc()
            GROUP_COMMIT_MEMBERS.labels(self.service).inc(tx.members)
        tx.committed.set_result(None)
        if rows and self.on_commit is not None:
            await self.on_commit(rows)
