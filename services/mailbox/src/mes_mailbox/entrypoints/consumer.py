"""The delivery consumer: a fetched batch of events is stored in one transaction.

The platform consumer commits once per event; on SQLite each commit and each statement is a
hop to the driver's thread, which caps delivery far below what the mailbox must absorb.
Here a batch shares one transaction (same guarantees: handled ids recorded in it, acks only
after its commit). If the batch fails, its events are handled one by one by the platform
path, so retries and parking still apply per event and one poison event never holds back
the others.

This subclasses ``EventConsumer`` and reuses its private parts (``_subscribe``, ``_sub``,
``_release``, ``_handle``); a ``batch_handler`` hook in ``mes_platform.consumer`` would replace it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from sqlalchemy import insert, select

from mes_contracts import EventEnvelope
from mes_platform.consumer import EventConsumer
from mes_platform.metrics import EVENTS_HANDLED
from mes_platform.tables import processed_events

from ..adapters.uow import MailboxUnitOfWork

__all__ = ["BatchHandler", "BatchingEventConsumer"]

log = logging.getLogger(__name__)

BatchHandler = Callable[[MailboxUnitOfWork, Sequence[EventEnvelope]], Awaitable[None]]


class BatchingEventConsumer(EventConsumer[MailboxUnitOfWork]):
    def __init__(self, *, batch_handler: BatchHandler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_handler = batch_handler

    async def _run(self) -> None:
        # The platform's loop (subscription kept in ``_sub`` so that ``stop`` releases it),
        # with the fetched batch handled at once.
        while not self._stopping:
            try:
                if self._sub is None:
                    self._sub = await self._subscribe()
                    self.ready.set()
                try:
                    msgs = await self._sub.fetch(self.batch_size, timeout=self.poll_seconds)
                except TimeoutError:
                    continue
                await self._handle_batch(msgs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "consumer loop error, retrying",
                    extra={"consumer": self.durable, "error": repr(exc)},
                )
                if isinstance(exc, NotFoundError):
                    await self._release()  # the consumer vanished (fresh server)
                await asyncio.sleep(0.5)

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        parsed: list[tuple[Msg, EventEnvelope]] = []
        for msg in msgs:
            try:
                parsed.append((msg, EventEnvelope.from_json_bytes(msg.data)))
            except Exception:
                await self._handle(msg)  # parks it
        if not parsed:
            return
        try:
            handled, duplicates = await self._apply_batch([e for _, e in parsed])
        except Exception as exc:
            log.warning(
                "batch failed, handling its events one by one",
                extra={"consumer": self.durable, "error": repr(exc)},
            )
            for msg, _ in parsed:
                await self._handle(msg)
            return
        for msg, _ in parsed:
            await msg.ack()
        EVENTS_HANDLED.labels(self.service, self.durable, "handled").inc(handled)
        if duplicates:
            EVENTS_HANDLED.labels(self.service, self.durable, "duplicate").inc(duplicates)

    async def _apply_batch(self, envelopes: list[EventEnvelope]) -> tuple[int, int]:
        async with self.uow_factory() as uow:
            ids = list({e.id for e in envelopes})
            seen = set(
                (
                    await uow.conn.execute(
                        select(processed_events.c.event_id).where(
                            processed_events.c.consumer == self.durable,
                            processed_events.c.event_id.in_(ids),
                        )
                    )
                ).scalars()
            )
            fresh: dict[str, EventEnvelope] = {}
            for e in envelopes:
                if e.id not in seen:
                    fresh.setdefault(e.id, e)
            if fresh:
                now = datetime.now(UTC)
                await uow.conn.execute(
                    insert(processed_events),
                    [{"consumer": self.durable, "event_id": i, "processed_at": now} for i in fresh],
                )
                await self.batch_handler(uow, list(fresh.values()))
            await uow.commit()
        return len(fresh), len(envelopes) - len(fresh)
