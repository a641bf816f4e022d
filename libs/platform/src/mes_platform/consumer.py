"""Durable, idempotent JetStream consumers.

Each event is handled in a database transaction that also records its id; the message is
acknowledged only after that commit. A redelivered event whose id is recorded is acknowledged
without effect. An event that keeps failing is parked (a row in ``parked_events``) and
acknowledged, so it neither blocks the stream nor retries forever.

Delivery is pushed: the durable consumer delivers to a subject that every replica of the
service subscribes to in one queue group, so the server spreads events over the replicas and
no replica asks for them (a pull consumer costs a request, and a "no messages" answer, per
small batch). The server keeps at most ``max_ack_pending`` events unacknowledged per consumer,
which bounds what a replica holds in memory. Whatever arrived while a batch was being handled
makes the next batch; with a ``batch_handler``, a batch shares one transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import insert
from sqlalchemy.sql import Executable

from mes_contracts import EventEnvelope

from .bus import EventBus
from .context import request_id_var, sanitize_request_id
from .metrics import EVENTS_HANDLED, EVENTS_PARKED
from .statements import insert_ignoring_duplicates
from .tables import parked_events, processed_events
from .uow import UnitOfWork

__all__ = ["BatchHandler", "EventConsumer", "Handler"]

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)
Handler = Callable[[U, EventEnvelope], Awaitable[None]]
BatchHandler = Callable[[U, Sequence[EventEnvelope]], Awaitable[None]]


@functools.cache
def _record_new(dialect_name: str) -> Executable:
    """Records the events' ids, returning only those not recorded before: the check and the
    record in one statement."""
    insert_ = insert_ignoring_duplicates(dialect_name, processed_events)
    return insert_.returning(processed_events.c.event_id)


def deliver_subject(durable: str) -> str:
    """Where the server pushes a durable consumer's events (outside every stream's subjects)."""
    return f"_MES.deliver.{durable}"


class EventConsumer(Generic[U]):
    """``handler`` handles one event in its transaction. With ``batch_handler`` too, the events
    that arrived together are handled in one transaction; if that fails, they are handled one
    by one with ``handler``, so retries and parking apply per event and a poison event never
    holds back the others."""

    def __init__(
        self,
        *,
        bus: EventBus,
        service: str,
        durable: str,
        stream: str,
        subjects: Sequence[str],
        uow_factory: Callable[[], U],
        handler: Handler[U],
        batch_handler: BatchHandler[U] | None = None,
        max_deliver: int = 5,
        batch_size: int = 64,
        ack_wait: float = 30.0,
        retry_delay: float = 0.2,
        poll_seconds: float = 0.5,
        linger_seconds: float = 0.0,
    ) -> None:
        self.bus = bus
        self.service = service
        self.durable = durable
        self.stream = stream
        self.subjects = list(subjects)
        self.uow_factory = uow_factory
        self.handler = handler
        self.batch_handler = batch_handler
        self.max_deliver = max_deliver
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        # A failed event comes back after retry_delay * 2**deliveries (capped at 10 s).
        self.retry_delay = retry_delay
        # How often an idle consumer checks that the server still has it; it also bounds how
        # long stop() takes.
        self.poll_seconds = poll_seconds
        # With a batch handler: how long the first event of a batch waits for others to join
        # it (a few milliseconds of delay for far fewer transactions under load). Only an
        # event that came less than this after the one before it waits: under a steady flow
        # the batch fills, while a lone event, or the first after a pause, is handled at once.
        self.linger_seconds = linger_seconds
        self._last_arrival = float("-inf")
        self._lead_gap = float("inf")  # before the first event in the buffer, since the last
        self._task: asyncio.Task[None] | None = None
        self._sub: Any = None
        self._buffer: list[Msg] = []
        self._arrived = asyncio.Event()
        self._stopping = False
        self.ready = asyncio.Event()

    def start(self) -> None:
        # A runtime may be stopped and started again (tests, lifespan re-entry).
        self._stopping = False
        self.ready.clear()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-{self.durable}")

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        self._stopping = True
        self._arrived.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._release()

    async def _release(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection is gone already: nothing left to release
                log.debug("could not unsubscribe", exc_info=True)
        # Events received but not handled go back now, not after ack_wait.
        unhandled, self._buffer = self._buffer, []
        for msg in unhandled:
            try:
                await msg.nak()
            except Exception:  # not connected: the server redelivers after ack_wait
                break

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            deliver_subject=deliver_subject(self.durable),
            deliver_group=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            # Redelivery is counted by us (parking), not capped by the server.
            max_deliver=-1,
            max_ack_pending=self.batch_size * 4,
            filter_subjects=self.subjects,
        )

    async def _subscribe(self) -> Any:
        await self.bus.wait_connected()
        await self.bus.ensure_streams([self.stream])
        js = self.bus.js
        config = self._config()
        try:
            info = await js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            info = None
        if info is not None and not info.config.deliver_subject:
            # A pull consumer left by an earlier version: replaced by the push one, which
            # resumes after the last event acknowledged (events after it come again, and the
            # recorded ids make them no-ops).
            floor = info.ack_floor.stream_seq if info.ack_floor else None
            await js.delete_consumer(self.stream, self.durable)
            if floor:
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = floor + 1
            info = None
        subject = config.deliver_subject
        if info is None:
            await js.add_consumer(self.stream, config)
        elif info.config.deliver_subject:
            subject = info.config.deliver_subject
            if info.config.ack_wait is None or abs(info.config.ack_wait - self.ack_wait) > 1e-3:
                # A setting changed since the consumer was created: updated in place, the
                # server keeps what was delivered and acknowledged.
                await js.add_consumer(
                    self.stream, dataclasses.replace(info.config, ack_wait=self.ack_wait)
                )
        assert subject is not None
        return await self.bus.nc.subscribe(
            subject,
            queue=self.durable,
            cb=self._on_msg,
            pending_msgs_limit=self.batch_size * 8,
        )

    async def _on_msg(self, msg: Msg) -> None:
        now = time.monotonic()
        if not self._buffer:
            self._lead_gap = now - self._last_arrival
        self._last_arrival = now
        self._buffer.append(msg)
        self._arrived.set()

    async def _still_there(self) -> bool:
        """Whether the server still has the consumer (one that came back with an empty store
        has not: then it must be created again)."""
        try:
            await self.bus.js.consumer_info(self.stream, self.durable)
            return True
        except NotFoundError:
            return False

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if self._sub is None:
                    self._sub = await self._subscribe()
                    self.ready.set()
                if not self._buffer:
                    try:
                        # asyncio.timeout, not wait_for: no task created per wait (one per
                        # batch, and under load a batch may be a single event).
                        async with asyncio.timeout(self.poll_seconds):
                            await self._arrived.wait()
                    except TimeoutError:
                        if self.bus.is_connected and not await self._still_there():
                            await self._release()
                        continue
                    finally:
                        self._arrived.clear()
                if self._stopping:
                    break
                if not self._buffer:
                    continue  # woken for events already handled
                if (
                    self.batch_handler is not None
                    and self._lead_gap < self.linger_seconds
                    and len(self._buffer) < self.batch_size
                ):
                    await asyncio.sleep(self.linger_seconds)
                batch, self._buffer = (
                    self._buffer[: self.batch_size],
                    self._buffer[self.batch_size :],
                )
                await self._handle_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "consumer loop error, retrying",
                    extra={"consumer": self.durable, "error": repr(exc)},
                )
                await self._release()
                await asyncio.sleep(0.5)

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        if self.batch_handler is None or len(msgs) == 1:
            for msg in msgs:
                await self._handle(msg)
            return
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
        assert self.batch_handler is not None
        return await self._apply_once(envelopes, self.batch_handler)

    async def _apply_once(
        self, envelopes: list[EventEnvelope], handle: BatchHandler[U]
    ) -> tuple[int, int]:
        """``handle`` the events not handled before, recording their ids in the same
        transaction; returns (handled, duplicates). An id another replica is recording at the
        same time is skipped once its transaction commits (``ON CONFLICT DO NOTHING``): no
        error is left to mean "handled elsewhere", so any failure is a failure."""
        first: dict[str, EventEnvelope] = {}  # the first of each id, in arrival order
        for e in envelopes:
            first.setdefault(e.id, e)
        async with self.uow_factory() as uow:
            now = datetime.now(UTC)
            recorded = set(
                (
                    await uow.conn.execute(
                        _record_new(uow.conn.dialect.name),
                        [
                            {"consumer": self.durable, "event_id": i, "processed_at": now}
                            for i in first
                        ],
                    )
                ).scalars()
            )
            fresh = [e for i, e in first.items() if i in recorded]
            if fresh:
                await handle(uow, fresh)
            await uow.commit()
        return len(fresh), len(envelopes) - len(fresh)

    async def _handle(self, msg: Msg) -> None:
        try:
            envelope = EventEnvelope.from_json_bytes(msg.data)
        except Exception as exc:
            await self._park(msg, event_id=(msg.headers or {}).get("Nats-Msg-Id", "?"), error=exc)
            return
        token = request_id_var.set(sanitize_request_id(envelope.correlation_id))
        try:
            outcome = await self._apply(envelope)
            await msg.ack()
            EVENTS_HANDLED.labels(self.service, self.durable, outcome).inc()
        except Exception as exc:
            deliveries = msg.metadata.num_delivered or 1
            if deliveries >= self.max_deliver:
                await self._park(msg, event_id=envelope.id, error=exc)
            else:
                log.warning(
                    "event handling failed, will retry",
                    exc_info=True,
                    extra={"event_id": envelope.id, "deliveries": deliveries},
                )
                await msg.nak(delay=min(self.retry_delay * 2**deliveries, 10.0))
                EVENTS_HANDLED.labels(self.service, self.durable, "retried").inc()
        finally:
            request_id_var.reset(token)

    async def _apply(self, envelope: EventEnvelope) -> str:
        async def handle_one(uow: U, envelopes: Sequence[EventEnvelope]) -> None:
            await self.handler(uow, envelopes[0])

        handled, _ = await self._apply_once([envelope], handle_one)
        return "handled" if handled else "duplicate"

    async def _park(self, msg: Msg, *, event_id: str, error: BaseException) -> None:
        log.error(
            "event parked",
            extra={"consumer": self.durable, "event_id": event_id, "error": repr(error)},
        )
        async with self.uow_factory() as uow:
            await uow.conn.execute(
                insert(parked_events).values(
                    consumer=self.durable,
                    event_id=event_id,
                    subject=msg.subject,
                    body=msg.data,
                    error="".join(traceback.format_exception(error))[-4000:],
                    deliveries=msg.metadata.num_delivered or 1,
                    parked_at=datetime.now(UTC),
                )
            )
            await uow.commit()
        await msg.term()
        EVENTS_PARKED.labels(self.service, self.durable).inc()
