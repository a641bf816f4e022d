"""Durable, idempotent JetStream consumers.

Each event is handled in one database transaction that also records its id; the message is
acknowledged only after that commit. A redelivered event whose id is recorded is acknowledged
without effect. An event that keeps failing is parked (a row in ``parked_events``) and
acknowledged, so it neither blocks the stream nor retries forever.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from mes_contracts import EventEnvelope

from .bus import EventBus
from .context import request_id_var, sanitize_request_id
from .metrics import EVENTS_HANDLED, EVENTS_PARKED
from .tables import parked_events, processed_events
from .uow import UnitOfWork

__all__ = ["EventConsumer", "Handler"]

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)
Handler = Callable[[U, EventEnvelope], Awaitable[None]]


class EventConsumer(Generic[U]):
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
        max_deliver: int = 5,
        batch_size: int = 64,
        ack_wait: float = 30.0,
        retry_delay: float = 0.2,
        poll_seconds: float = 0.5,
    ) -> None:
        self.bus = bus
        self.service = service
        self.durable = durable
        self.stream = stream
        self.subjects = list(subjects)
        self.uow_factory = uow_factory
        self.handler = handler
        self.max_deliver = max_deliver
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        # A failed event comes back after retry_delay * 2**deliveries (capped at 10 s).
        self.retry_delay = retry_delay
        # How long an idle fetch waits on the server; it bounds how long stop() takes.
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._sub: Any = None
        self._stopping = False
        self.ready = asyncio.Event()

    def start(self) -> None:
        # A runtime may be stopped and started again (tests, lifespan re-entry).
        self._stopping = False
        self.ready.clear()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-{self.durable}")

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        self._stopping = True
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._release()

    async def _release(self) -> None:
        # An idle pull subscription never finishes draining: left subscribed, it holds the
        # connection's drain (and so the service's shutdown) for the whole drain timeout.
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection is gone already: nothing left to release
                log.debug("could not unsubscribe", exc_info=True)

    async def _subscribe(self) -> Any:
        await self.bus.wait_connected()
        await self.bus.ensure_streams([self.stream])
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            # Redelivery is counted by us (parking), not capped by the server.
            max_deliver=-1,
            max_ack_pending=self.batch_size * 4,
            filter_subjects=self.subjects,
        )
        try:
            await self.bus.js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            await self.bus.js.add_consumer(self.stream, config)
        return await self.bus.js.pull_subscribe_bind(self.durable, stream=self.stream)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if self._sub is None:
                    self._sub = await self._subscribe()
                    self.ready.set()
                try:
                    # The server answers this as soon as one message is there, with up to
                    # batch_size of those waiting: a lone event does not wait for the timeout.
                    msgs = await self._sub.fetch(self.batch_size, timeout=self.poll_seconds)
                except TimeoutError:
                    continue
                for msg in msgs:
                    await self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "consumer loop error, retrying",
                    extra={"consumer": self.durable, "error": repr(exc)},
                )
                if isinstance(exc, NotFoundError):
                    # The consumer vanished (fresh server): create it again.
                    await self._release()
                await asyncio.sleep(0.5)

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
        async with self.uow_factory() as uow:
            seen = await uow.conn.execute(
                select(processed_events.c.event_id).where(
                    processed_events.c.consumer == self.durable,
                    processed_events.c.event_id == envelope.id,
                )
            )
            if seen.first() is not None:
                return "duplicate"
            await uow.conn.execute(
                insert(processed_events).values(
                    consumer=self.durable, event_id=envelope.id, processed_at=datetime.now(UTC)
                )
            )
            await self.handler(uow, envelope)
            try:
                await uow.commit()
            except IntegrityError:
                # Another replica handled it between our check and our commit.
                return "duplicate"
        return "handled"

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
