"""Transactional outbox: events are rows written in the change's own transaction; a relay
publishes them to JetStream with ``Nats-Msg-Id`` = event id, then deletes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

__all__ = ["OutboxRelay", "write_events"]

log = logging.getLogger(__name__)


async def write_events(conn: AsyncConnection, events: list[EventEnvelope]) -> None:
    if not events:
        return
    now = datetime.now(UTC)
    await conn.execute(
        insert(outbox),
        [
            {
                "event_id": e.id,
                "subject": e.type,
                "body": e.to_json_bytes(),
                "correlation_id": e.correlation_id,
                "created_at": now,
            }
            for e in events
        ],
    )


class OutboxRelay:
    """Publishes pending outbox rows in order, pipelined in batches.

    Woken right after a commit (``notify``), and polls as a safety net for rows written by a
    process that died before waking it. A publish failure leaves the rows for the next pass.
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        service: str,
        *,
        batch_size: int = 256,
        poll_seconds: float = 0.5,
    ) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        # A runtime may be stopped and started again (tests, lifespan re-entry).
        self._stopping = False
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

    async def _run(self) -> None:
        delay = 0.1
        while True:
            # Only a pass that starts after stop() was asked sees every committed row: an
            # earlier one may have read the outbox just before the last commit.
            final = self._stopping
            if not self.bus.is_connected:
                # Wait for the (re)connection rather than back off: publish as soon as it is up.
                try:
                    await self.bus.wait_connected(timeout=self.poll_seconds)
                except TimeoutError:
                    if self._stopping:
                        return  # the rows stay for the next start
                    continue
            try:
                published = await self.publish_pending()
                delay = 0.1
            except Exception as exc:
                log.warning(
                    "outbox relay could not publish, will retry", extra={"error": repr(exc)}
                )
                if final:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if published == self.batch_size:
                continue  # more may be waiting
            if final:
                return
            if self._stopping:
                continue  # one more pass: the flush
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish up to one batch; returns how many were published."""
        if not self.bus.is_connected:
            await self.bus.wait_connected(timeout=self.poll_seconds)
        async with self.db.reading() as conn:
            rows = (
                await conn.execute(
                    select(
                        outbox.c.seq,
                        outbox.c.event_id,
                        outbox.c.subject,
                        outbox.c.body,
                        outbox.c.correlation_id,
                    )
                    .order_by(outbox.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
        OUTBOX_PENDING.labels(self.service).set(len(rows))
        if not rows:
            return 0
        await self.bus.ensure_streams({stream_for_subject(r.subject) for r in rows})
        js = self.bus.js
        acks: list[Any] = [
            js.publish(
                r.subject,
                r.body,
                headers={"Nats-Msg-Id": r.event_id, REQUEST_ID_HEADER: r.correlation_id},
            )
            for r in rows
        ]
        results = await asyncio.gather(*acks, return_exceptions=True)
        done = [
            r.seq
            for r, res in zip(rows, results, strict=True)
            if not isinstance(res, BaseException)
        ]
        failed = [res for res in results if isinstance(res, BaseException)]
        if done:
            async with self.db.transaction() as conn:
                await conn.execute(delete(outbox).where(outbox.c.seq.in_(done)))
            OUTBOX_PUBLISHED.labels(self.service).inc(len(done))
        if failed:
            raise failed[0]
        return len(done)
