"""The e-mails and pushes the relay or the provider accepted, waiting to be committed as sent.

A lane that got its ``250`` waits here until its notifications are committed as sent; only
then does it send anything else (so a crash repeats at most one e-mail per connection). Any
write transaction of the notifier that commits meanwhile carries them (:meth:`SentLog.write`
just before its commit): the consumers' intake, a claim, a failure recorded. Under load one
commit then stands for both the new notifications and the ones sent, instead of one commit
each; when no other transaction comes, the sender's recorder commits one of its own at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from mes_contracts.internal.notifier import NotificationState

from .metrics import NOTIFICATIONS
from .planning import Job
from .ports import NotifierRepository

__all__ = ["Carried", "SentLog"]

Carried = list[tuple[Job, asyncio.Future[None]]]


class SentLog:
    def __init__(self, clock: Callable[[], datetime], group_window: bool) -> None:
        self.clock = clock
        self.group_window = group_window
        self._pending: Carried = []
        self._carried = 0  # written in a transaction not committed yet
        self._arrived = asyncio.Event()
        self._settled = asyncio.Event()  # nothing unrecorded
        self._settled.set()
        self._writers = 0  # transactions open (or waiting for the database) that will carry
        self._no_writers = asyncio.Event()
        self._no_writers.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def unrecorded(self) -> int:
        """Waiting, or written in a transaction that has not committed yet."""
        return len(self._pending) + self._carried

    async def sent(self, job: Job) -> None:
        """Returns once ``job`` is committed as sent (raises what that commit raised)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((job, done))
        self._arrived.set()
        self._settled.clear()
        await done

    async def arrived(self) -> None:
        """Wait until something waits to be recorded and no transaction is open that would
        carry it when it commits (SQLite has one writer: a transaction of the recorder's own
        would only queue behind it, to find nothing left)."""
        while True:
            while not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            if not self._writers:
                return
            await self._no_writers.wait()

    def opened(self) -> None:
        """A write transaction starts (or waits for the database): it carries what waits."""
        self._writers += 1
        self._no_writers.clear()

    def closed(self) -> None:
        self._writers -= 1
        if not self._writers:
            self._no_writers.set()

    async def recorded(self) -> None:
        """Wait until all that was sent is committed (or failed)."""
        await self._settled.wait()

    async def write(self, repo: NotifierRepository) -> Carried:
        """Write what waits as sent, in the caller's transaction, which commits next and then
        says :meth:`committed` or :meth:`not_committed` with what this returned."""
        carried, self._pending = self._pending, []
        if not carried:
            return carried
        self._carried += len(carried)
        try:
            now = self.clock()
            jobs = [job for job, _ in carried]
            await repo.record_sent([(id_, job.recipient) for job in jobs for id_ in job.ids], now)
            if self.group_window:
                await repo.mark_windows(
                    [job.patient_ins for job in jobs if job.patient_ins is not None], now
                )
        except BaseException:
            self.not_committed(carried)
            raise
        return carried

    def committed(self, carried: Carried) -> None:
        self._carried -= len(carried)
        if not self.unrecorded:
            self._settled.set()
        for job, done in carried:
            NOTIFICATIONS.labels(job.kind.value, NotificationState.SENT.value).inc(len(job.ids))
            if not done.done():
                done.set_result(None)

    def not_committed(self, carried: Carried) -> None:
        """The transaction that carried them did not commit: they wait for the next one."""
        if carried:
            self._carried -= len(carried)
            self._pending[:0] = carried
            self._arrived.set()

    def fail(self, exc: BaseException) -> None:
        """Recording failed on the recorder's own transaction: the lanes waiting are told."""
        failed, self._pending = self._pending, []
        if not self.unrecorded:
            self._settled.set()
        for _, done in failed:
            if not done.done():
                done.set_exception(exc)
