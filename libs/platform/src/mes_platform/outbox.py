"""Transactional outbox: events are rows written in the change's own transaction; a relay
publishes them to JetStream with ``Nats-Msg-Id`` = event id, then deletes them.

Two paths lead from a row to the stream, and the row is the guarantee for both:

- at once: right after its commit, the unit of work hands the rows it wrote to
  :meth:`OutboxRelay.committed`, which publishes them without reading them back and without
  waiting for the acknowledgements (the relay's loop deletes each row when its ack arrives);
- the backlog: rows that could not go at once (NATS down, a stream to create, an ack that
  failed or never came, a process that died before publishing) are read from the table in
  order and published by the relay's loop, on a wake-up or a poll.

A row published twice (an ack lost, a restart between publish and delete) is stored once:
JetStream drops a second message with the same ``Nats-Msg-Id`` within the duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts import EventEnvelope
from mes_contracts.events import stream_for_subject

from .bus import EventBus
from .context import REQUEST_ID_HEADER
from .db import Database
from .metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED
from .tables import outbox

__all__ = ["OutboxRelay", "OutboxRow", "write_events"]

log = logging.getLogger(__name__)

_INSERT = insert(outbox)
_DELETE_CHUNK = 500  # bound parameters per DELETE (SQLite's limit is well above)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    event_id: str
    subject: str
    body: bytes
    correlation_id: str


async def write_events(conn: AsyncConnection, events: list[EventEnvelope]) -> list[OutboxRow]:
    """Write ``events`` in the caller's transaction; returns the rows, for the relay."""
    if not events:
        return []
    now = datetime.now(UTC)
    rows = [OutboxRow(e.id, e.type, e.to_json_bytes(), e.correlation_id) for e in events]
    await conn.execute(
        _INSERT,
        [
            {
                "event_id": r.event_id,
                "subject": r.subject,
                "body": r.body,
                "correlation_id": r.correlation_id,
                "created_at": now,
            }
            for r in rows
        ],
    )
    return rows


class OutboxRelay:
    """Publishes committed outbox rows, at once when it can, from the table otherwise.

    ``max_in_flight`` bounds the publishes awaiting their ack; beyond it, commits leave their
    rows to the loop instead of queueing more. An ack not back within ``ack_timeout`` seconds
    counts as a failure: the row stays and is published again from the backlog.
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        service: str,
        *,
        batch_size: int = 256,
        poll_seconds: float = 0.5,
        ack_timeout: float = 5.0,
        max_in_flight: int = 2048,
        settle_seconds: float = 0.05,
    ) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.ack_timeout = ack_timeout
        self.max_in_flight = max_in_flight
        self.settle_seconds = settle_seconds
        self._acked = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # event id -> (deadline, ack future) of every publish not yet settled
        self._in_flight: dict[str, tuple[float, asyncio.Future[Any]]] = {}
        self._backlog_due = True
        # Commits publish at once only while no row waits in the table: an event must not
        # overtake an earlier one (of the same conversation, say) left there.
        self._immediate = False
        self._commits = 0  # commits handed over so far: tells a pass whether one came meanwhile
        self._last_pass = 0.0

    # -- called by the unit of work ---------------------------------------------------------

    def notify(self) -> None:
        """Rows were committed that nobody handed over: read the table soon (and, until it is
        read, later commits wait there too, to keep the order)."""
        self._immediate = False
        self._backlog_due = True
        self._wake.set()

    async def committed(self, rows: Sequence[OutboxRow]) -> None:
        """Publish rows just committed, now, without waiting for their acks. Never raises:
        whatever cannot go now stays in the table for the loop."""
        if not rows:
            return
        self._commits += 1
        if (
            not self._immediate
            or self._stopping
            or self._task is None
            or not self.bus.is_connected
            or len(self._in_flight) + len(rows) > self.max_in_flight
            or not self.bus.streams_ensured(stream_for_subject(r.subject) for r in rows)
        ):
            self.notify()
            return
        try:
            await self._publish(rows)
        except Exception as exc:  # the rows stay: the loop publishes them
            log.info("immediate publish failed, left to the relay", extra={"error": repr(exc)})
            self.notify()

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        # A runtime may be stopped and started again (tests, lifespan re-entry).
        self._stopping = False
        self._backlog_due = True
        self._immediate = False
        self._wake.clear()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self, flush_timeout: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), flush_timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        self._abandon_in_flight()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            # Only a pass that starts after stop() was asked sees every committed row: an
            # earlier one may have read the outbox just before the last commit.
            final = self._stopping
            if not self.bus.is_connected:
                self._abandon_in_flight()
                # Wait for the (re)connection rather than back off: publish as soon as it is up.
                try:
                    await self.bus.wait_connected(timeout=self.poll_seconds)
                except TimeoutError:
                    if self._stopping:
                        return  # the rows stay for the next start
                    continue
            try:
                if final and self._in_flight:
                    await asyncio.wait(
                        [f for _, f in self._in_flight.values()], timeout=self.ack_timeout
                    )
                await self._settle()
                published = 0
                if time.monotonic() - self._last_pass > self.poll_seconds * 10:
                    # Acks keep waking the loop under load, so the poll never times out: read
                    # the table now and then all the same.
                    self._backlog_due = True
                if self._backlog_due or final:
                    self._backlog_due = False
                    self._last_pass = time.monotonic()
                    published = await self.publish_pending()
                delay = 0.1
            except Exception as exc:
                self._backlog_due = True
                log.warning(
                    "outbox relay could not publish, will retry: %r",
                    exc,
                    extra={"error": repr(exc)},
                )
                if final:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if published == self.batch_size:
                self._backlog_due = True
                continue  # more may be waiting
            if final:
                return
            if self._stopping:
                continue  # one more pass: the flush
            await self._wait()

    async def _wait(self) -> None:
        """Until rows need reading (a wake-up, or the poll: the safety net for rows of a
        process that died before handing them over), or acks have arrived, collected for
        ``settle_seconds`` so that one DELETE removes many rows."""
        wake = asyncio.ensure_future(self._wake.wait())
        acked = asyncio.ensure_future(self._acked.wait())
        try:
            done, _ = await asyncio.wait(
                {wake, acked}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            wake.cancel()
            acked.cancel()
        if not done:
            self._backlog_due = True
        elif wake not in done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settle_seconds)
        self._wake.clear()
        self._acked.clear()

    async def publish_pending(self) -> int:
        """Publish up to one batch of the table's rows not already in flight, in commit order,
        wait for their acks and delete them; returns how many were published.

        A pass that finds the table drained, with no commit handed over since it began
        reading, lets the commits that follow publish at once (after its own rows)."""
        if not self.bus.is_connected:
            await self.bus.wait_connected(timeout=self.poll_seconds)
        commits_before = self._commits
        async with self.db.reading() as conn:
            found = (
                await conn.execute(
                    select(
                        outbox.c.event_id,
                        outbox.c.subject,
                        outbox.c.body,
                        outbox.c.correlation_id,
                    )
                    .order_by(outbox.c.seq)
                    .limit(self.batch_size + len(self._in_flight))
                )
            ).all()
        OUTBOX_PENDING.labels(self.service).set(len(found))
        rows = [
            OutboxRow(r.event_id, r.subject, r.body, r.correlation_id)
            for r in found
            if r.event_id not in self._in_flight
        ][: self.batch_size]
        if rows:
            await self.bus.ensure_streams({stream_for_subject(r.subject) for r in rows})
        if (
            len(rows) < self.batch_size
            and self._commits == commits_before
            and not self._stopping
            and self.bus.is_connected
        ):
            # Nothing can be behind these rows: they are published first, in this same step.
            self._immediate = True
        if not rows:
            return 0
        futures = await self._publish(rows)
        await asyncio.wait(futures, timeout=self.ack_timeout)
        settled = [f for f in futures if f.done() and not f.cancelled()]
        errors = [e for e in (f.exception() for f in settled) if e is not None]
        published = len(settled) - len(errors)
        await self._settle()
        if errors:
            raise errors[0]
        if published < len(futures):
            raise TimeoutError(f"{len(futures) - published} publishes were not acknowledged")
        return published

    # -- publishing and acks ----------------------------------------------------------------

    async def _publish(self, rows: Iterable[OutboxRow]) -> list[asyncio.Future[Any]]:
        js = self.bus.js
        deadline = time.monotonic() + self.ack_timeout
        futures: list[asyncio.Future[Any]] = []
        for r in rows:
            if r.event_id in self._in_flight:
                continue
            future = await js.publish_async(
                r.subject,
                r.body,
                # No stall timeout: with one, every publish would yield to the event loop,
                # and a commit could slip in between two rows that must stay in order.
                wait_stall=None,
                headers={"Nats-Msg-Id": r.event_id, REQUEST_ID_HEADER: r.correlation_id},
            )
            self._in_flight[r.event_id] = (deadline, future)
            future.add_done_callback(self._on_ack)
            futures.append(future)
        return futures

    def _on_ack(self, _future: asyncio.Future[Any]) -> None:
        self._acked.set()

    async def _settle(self) -> None:
        """Delete the rows whose publish was acknowledged; a failed or overdue publish leaves
        its row for the backlog."""
        now = time.monotonic()
        acked: list[str] = []
        for event_id, (deadline, future) in list(self._in_flight.items()):
            if future.done():
                del self._in_flight[event_id]
                if future.cancelled() or future.exception() is not None:
                    self._backlog_due = True
                    self._immediate = False
                else:
                    acked.append(event_id)
            elif deadline < now:
                del self._in_flight[event_id]
                future.cancel()
                self._backlog_due = True
                self._immediate = False
        if not acked:
            return
        async with self.db.transaction() as conn:
            for i in range(0, len(acked), _DELETE_CHUNK):
                chunk = acked[i : i + _DELETE_CHUNK]
                await conn.execute(delete(outbox).where(outbox.c.event_id.in_(chunk)))
        OUTBOX_PUBLISHED.labels(self.service).inc(len(acked))

    def _abandon_in_flight(self) -> None:
        # Acks of a lost connection never come: their rows stay and go again from the table.
        for _, future in self._in_flight.values():
            if not future.done():
                future.cancel()
        if self._in_flight:
            self._backlog_due = True
        self._immediate = False
        self._in_flight.clear()
