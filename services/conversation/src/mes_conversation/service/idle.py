"""Conversations nobody wrote in for a while close by themselves, as some professional software
does (DOMAIN.md); the health actor is recorded as the one who closed them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mes_contracts.events.conversation import ConversationCloseReason

from .common import closed_event
from .ports import ConversationUnitOfWork

__all__ = ["IdleCloser"]

log = logging.getLogger(__name__)


class IdleCloser:
    def __init__(
        self,
        uow_factory: Callable[[], ConversationUnitOfWork],
        *,
        after_seconds: float,
        interval_seconds: float,
        batch_size: int = 200,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.after = timedelta(seconds=after_seconds)
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def close_idle(self) -> int:
        """Close every open conversation idle for ``after_seconds``; returns how many."""
        closed = 0
        while True:
            now = self.clock()
            cutoff = now - self.after
            async with self.uow_factory() as uow:
                candidates = await uow.conversations.idle_since(cutoff, self.batch_size)
                for conversation in candidates:
                    conversation.close_by(
                        conversation.correspondent.address, now, ConversationCloseReason.IDLE
                    )
                    # Skipped if a message arrived since the scan: it is no longer idle.
                    if await uow.conversations.close_if_idle(conversation, cutoff):
                        uow.emit(closed_event(conversation))
                        closed += 1
                await uow.commit()
            if len(candidates) < self.batch_size:
                return closed

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conversation-idle-closer")

    async def _run(self) -> None:
        while True:
            try:
                count = await self.close_idle()
                if count:
                    log.info("idle conversations closed", extra={"count": count})
            except Exception:  # retried next round: a database hiccup must not end the loop
                log.warning("idle close failed, will retry", exc_info=True)
            await asyncio.sleep(self.interval_seconds)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
