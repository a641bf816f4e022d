"""The pharmacy-directory service, asked who owns a health actor's mailbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
from nats.aio.msg import Msg
from pydantic import ValidationError

from mes_contracts import EventEnvelope
from mes_contracts.addresses import AddressError
from mes_contracts.events.directory import MailboxRegistered
from mes_contracts.internal.directory import MailboxOut
from mes_platform.bus import EventBus, PlainSubscription
from mes_platform.cache import ExpiringCache
from mes_platform.clients import path_segment

from ..domain.model import DirectoryEntry, actor_address
from ..service.ports import DependencyUnavailable

__all__ = ["DirectoryUpdates", "HttpMailboxDirectory"]

log = logging.getLogger(__name__)


class HttpMailboxDirectory:
    """``GET /internal/mailboxes/{address}`` on pharmacy-directory, entries cached.

    Entries change rarely (a registration); an unknown address is not cached, so a mailbox
    registered a moment ago is found at once. An entry is kept ``cache_seconds`` only while
    the directory's changes are heard (``watched``, see :class:`DirectoryUpdates`); otherwise
    ``unwatched_cache_seconds``, since a change published meanwhile would never replace it.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        cache_seconds: float = 30.0,
        unwatched_cache_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cache_seconds = cache_seconds
        self.unwatched_cache_seconds = min(unwatched_cache_seconds, cache_seconds)
        self.clock = clock
        self.watched: Callable[[], bool] = lambda: False
        self._cache: ExpiringCache[str, DirectoryEntry] = ExpiringCache(clock=clock)
        # Bumped whenever changes may have been missed: an answer asked before is not kept.
        self._generation = 0

    def forget_all(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def get(self, address: str) -> DirectoryEntry | None:
        hit = self._cache.get(address)
        if hit is not None:
            return hit
        generation = self._generation
        try:
            response = await self.client.get(f"/internal/mailboxes/{path_segment(address)}")
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(
                "The mailbox directory cannot be reached.", dependency="pharmacy-directory"
            ) from exc
        if response.status_code in (404, 422):
            return None  # unknown, or not even an address the directory could hold
        if response.status_code != 200:
            raise DependencyUnavailable(
                f"The mailbox directory answered {response.status_code}.",
                dependency="pharmacy-directory",
            )
        try:
            answer = MailboxOut.model_validate_json(response.content)
            entry = DirectoryEntry(
                address=actor_address(answer.address),
                type=answer.type,
                display_name=answer.display_name,
                pharmacy=answer.pharmacy,
            )
        except (ValidationError, AddressError) as exc:
            raise DependencyUnavailable(
                "The mailbox directory answered an unreadable entry.",
                dependency="pharmacy-directory",
            ) from exc
        if generation == self._generation:
            self.remember(entry, key=address)
        return entry

    def remember(self, entry: DirectoryEntry, *, key: str | None = None) -> None:
        keep = self.cache_seconds if self.watched() else self.unwatched_cache_seconds
        if keep <= 0:
            return
        expires = self.clock() + keep
        self._cache.put(entry.address, entry, expires)
        if key is not None:
            self._cache.put(key, entry, expires)

    async def aclose(self) -> None:
        await self.client.aclose()


class DirectoryUpdates:
    """Refreshes the directory cache from ``MailboxRegistered`` events.

    A plain (non-durable) subscription on purpose: every replica keeps its own cache, so each
    must see every event. Events published while it is not subscribed are not kept for it:
    the cache is emptied when the subscription is in place and on every disconnection and
    reconnection, and entries are kept only briefly until it is live.
    """

    def __init__(self, bus: EventBus, directory: HttpMailboxDirectory) -> None:
        self.directory = directory
        self.subscription = PlainSubscription(
            bus,
            MailboxRegistered.SUBJECT,
            self._on_message,
            name="conversation-directory-updates",
            on_gap=directory.forget_all,
        )

    def start(self) -> None:
        self.directory.watched = self.subscription.live
        self.subscription.start()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = EventEnvelope.from_json_bytes(msg.data).payload_as(MailboxRegistered)
        except Exception:  # a malformed event must not stop the subscription
            log.warning("unreadable MailboxRegistered event ignored", exc_info=True)
            return
        self.directory.remember(
            DirectoryEntry(
                address=actor_address(event.address),
                type=event.type,
                display_name=event.display_name,
                pharmacy=event.pharmacy,
            )
        )

    async def stop(self) -> None:
        self.directory.watched = lambda: False
        await self.subscription.stop()
