"""The NATS JetStream connection of a service: connects in the background, keeps reconnecting,
and creates the streams it publishes to or reads from."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from mes_contracts.events import STREAMS

__all__ = ["EventBus", "NotConnected", "PlainSubscription"]

log = logging.getLogger(__name__)

# Server-side de-duplication window for Nats-Msg-Id: longer than any relay retry gap.
DUPLICATE_WINDOW_SECONDS = 600.0
MAX_AGE_SECONDS = 14 * 24 * 3600.0


class NotConnected(RuntimeError):
    pass


class EventBus:
    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._connected = asyncio.Event()
        self._ensured: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._connection_listeners: list[Callable[[], None]] = []

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise NotConnected("not connected to NATS yet")
        return self._js

    @property
    def nc(self) -> NATS:
        if self._nc is None:
            raise NotConnected("not connected to NATS yet")
        return self._nc

    def on_connection_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every disconnection and reconnection: what a plain subscription
        received stops being complete there (messages sent meanwhile are not kept for it).
        Returns what removes the listener."""
        self._connection_listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._connection_listeners.remove(listener)

        return remove

    def _connection_changed(self) -> None:
        for listener in self._connection_listeners:
            try:
                listener()
            except Exception:  # one listener's failure must not stop the others
                log.exception("connection listener failed")

    def start(self) -> None:
        """Connect in the background: a service starts (and reports not ready) without NATS."""
        self._closing = False
        self._task = asyncio.create_task(self._connect_forever(), name=f"{self.name}-nats-connect")

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once connected (now, or after a reconnection); TimeoutError otherwise."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self._nc = await nats.connect(
                    self.url,
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                self._js = self._nc.jetstream(timeout=5)
                self._connected.set()
                log.info("connected to NATS", extra={"nats_url": self.url})
                return
            except Exception as exc:  # keep trying: a missing broker delays work, loses none
                log.warning("NATS not reachable, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS client error", extra={"error": repr(exc)})

    async def _on_disconnected(self) -> None:
        # Publishers wait for the reconnection instead of queueing requests that time out.
        self._connected.clear()
        self._connection_changed()
        if self._closing:
            log.info("disconnected from NATS")
        else:
            log.warning("disconnected from NATS")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS")
        self._connected.set()
        # The server may have come back empty (a fresh store): streams must exist again.
        self._ensured.clear()
        self._connection_changed()

    def streams_ensured(self, names: Iterable[str]) -> bool:
        """Whether every one of these streams was created or checked since the connection."""
        return all(name in self._ensured for name in names)

    async def ensure_streams(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self._ensured:
                continue
            config = StreamConfig(
                name=name,
                subjects=list(STREAMS[name].subjects),
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
                max_age=MAX_AGE_SECONDS,
            )
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                await self.js.update_stream(config)
            self._ensured.add(name)

    async def ping(self) -> bool:
        if not self.is_connected:
            return False
        try:
            await asyncio.wait_for(self.nc.flush(), 1.0)
            return True
        except Exception:
            return False

    async def close(self) -> None:
        self._closing = True
        self._connected.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._nc is not None and not self._nc.is_closed:
            try:
                await asyncio.wait_for(self._nc.drain(), 5.0)
            except Exception:
                # Not connected (NATS down, reconnecting): nothing to drain. Closing a dead
                # transport may raise too; a stopping service must stop all the same.
                try:
                    await self._nc.close()
                except Exception as exc:
                    log.info("NATS connection closed with an error", extra={"error": repr(exc)})


class PlainSubscription:
    """A plain (non-durable) subscription to ``subject``, for what refreshes a cache.

    Every replica receives every message (no queue group, no consumer on the server), and what
    is published while it is not subscribed is not kept for it: ``live()`` tells whether it is
    subscribed and connected, and ``on_gap`` (if given) is called when the subscription is in
    place and on every disconnection and reconnection, so that a cache can drop what it may
    have missed a change of.
    """

    def __init__(
        self,
        bus: EventBus,
        subject: str,
        handler: Callable[[Msg], Awaitable[None]],
        *,
        name: str,
        on_gap: Callable[[], None] | None = None,
    ) -> None:
        self.bus = bus
        self.subject = subject
        self.handler = handler
        self.name = name
        self.on_gap = on_gap
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        self._remove_listener: Callable[[], None] | None = None

    def start(self) -> None:
        if self.on_gap is not None:
            self._remove_listener = self.bus.on_connection_change(self.on_gap)
        self._task = asyncio.create_task(self._subscribe(), name=self.name)

    def live(self) -> bool:
        return self.subscribed.is_set() and self.bus.is_connected

    async def _subscribe(self) -> None:
        await self.bus.wait_connected()
        self._sub = await self.bus.nc.subscribe(self.subject, cb=self.handler)
        await self.bus.nc.flush()  # the server has the subscription: messages from now on arrive
        if self.on_gap is not None:
            self.on_gap()
        self.subscribed.set()

    async def stop(self) -> None:
        self.subscribed.clear()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection is gone already: nothing left to release
                log.debug("could not unsubscribe", extra={"nats_subject": self.subject})
