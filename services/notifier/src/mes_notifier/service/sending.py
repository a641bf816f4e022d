"""The sender: takes due notifications from the queue in the database and delivers them.

New notifications go to the lanes straight from the intake: the transaction that queues them
also claims them for this process and plans them (while the lanes have room), and hands the
jobs over once it commits; no claim of their own, no wait for the dispatcher. The dispatcher
claims, from the queue, what waits otherwise: retries, grouped messages whose window ended,
rows written while the lanes were full, what a dead sender held (its poll is the safety net).

Exactly once, as far as SMTP allows: each e-mail lane owns one connection to the relay and has
one e-mail in flight; as soon as the relay answers ``250`` the notifications it stands for are
committed as sent, before the lane sends anything else. The lanes whose ``250`` came while a
commit was running are recorded together by the next transaction to commit: the intake's, a
claim's, or else the recorder's own, started as soon as the previous ends (:mod:`.sent`). A
crash can therefore repeat at most one e-mail per connection (the one between ``250`` and that
commit); the e-mail sent again carries the same Message-ID, so a mail client shows it once.
Claims are leases: after a crash, what a dead sender held is taken over when its lease ends, so
nothing claimed is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mes_contracts.internal.notifier import NotificationState

from ..domain.emails import MailIdentity
from ..domain.errors import DeliveryDeferred, DeliveryRefused, TokenUnregistered
from ..domain.notifications import Notification, PatientContact, next_attempt_delay
from .intake import APP_BODY, APP_TITLE
from .metrics import BACKLOG, NOTIFICATIONS, SEND_SECONDS
from .planning import Job, PlanRules, defer_to_windows, plan
from .ports import (
    MailTransport,
    MailTransportFactory,
    NotifierUnitOfWork,
    PushProvider,
    UnitOfWorkFactory,
)
from .sent import SentLog

__all__ = ["NotificationSender", "SenderRules"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SenderRules:
    plan: PlanRules
    retry_first: float
    retry_max: float
    retry_for: timedelta
    lease: timedelta
    poll_seconds: float
    batch_size: int
    email_lanes: int
    send_timeout: float  # a lane does not start an e-mail whose lease ends sooner than this


def _now() -> datetime:
    return datetime.now(UTC)


def _claimed_row(n: Notification, lease_until: datetime) -> dict[str, Any]:
    """The row of a notification just queued and claimed, as a claim reads it back."""
    return {
        "id": n.id,
        "kind": n.kind.value,
        "target": n.target,
        "state": NotificationState.QUEUED.value,
        "attempts": 0,
        "data": n.data,
        "trigger_event_id": n.trigger_event_id,
        "created_at": n.created_at,
        "next_attempt_at": n.not_before or n.created_at,
        "lease_until": lease_until,
    }


class NotificationSender:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        mail: MailTransportFactory,
        push: PushProvider,
        identity: MailIdentity,
        rules: SenderRules,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.uow_factory = uow_factory
        self.mail = mail
        self.push = push
        self.identity = identity
        self.rules = rules
        self.clock = clock
        self._woken = asyncio.Event()
        # Whether rows may be due in the queue that no one claimed (the last claim was cut
        # short by the room the lanes had, or new rows were queued unclaimed): a lane whose
        # queue runs low asks for them, and new rows are queued behind them, not handed to
        # the lanes first. Otherwise new rows wake the dispatcher themselves (and the poll
        # finds the retries that come due).
        self._more_due = False
        self._emails: asyncio.Queue[Job] = asyncio.Queue()
        self._pushes: asyncio.Queue[Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._recorder: asyncio.Task[None] | None = None
        # Every unit of work of the factory writes what waits here as sent when it commits.
        self.sent = SentLog(clock, bool(rules.plan.group_window))
        self._transports: list[MailTransport] = []
        self._backlog_at = 0.0
        self._stopping = False
        self._running = False

    def wake(self) -> None:
        """Notifications were queued: claim them now rather than at the next poll."""
        self._woken.set()

    def start(self) -> None:
        self._stopping = False
        self._running = True
        self._emails = asyncio.Queue()
        self._pushes = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._dispatch(), name="notifier-dispatch")]
        for lane in range(self.rules.email_lanes):
            transport = self.mail()
            self._transports.append(transport)
            self._tasks.append(
                asyncio.create_task(self._email_lane(transport), name=f"notifier-smtp-{lane}")
            )
        self._tasks.append(asyncio.create_task(self._push_lane(), name="notifier-push"))
        self._recorder = asyncio.create_task(self._record_sent(), name="notifier-sent")

    async def stop(self) -> None:
        """Cancel the lanes and the dispatcher; an e-mail being recorded finishes first. A
        task whose cancellation was absorbed underneath (by a driver waiting for its lock) is
        cancelled again until it ends."""
        self._stopping = True
        self._running = False
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        self._tasks = []
        if self._recorder is not None:
            # What was sent before the lanes stopped is recorded, if the database answers.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.sent.recorded()
            self._recorder.cancel()
            await asyncio.gather(self._recorder, return_exceptions=True)
            self._recorder = None
        for transport in self._transports:
            await transport.close()
        self._transports = []
        await self.push.close()

    # --- claiming -----------------------------------------------------------------------------

    def _waiting(self) -> int:
        return self._emails.qsize() + self._pushes.qsize()

    async def _dispatch(self) -> None:
        while not self._stopping:
            self._woken.clear()
            try:
                claimed = 0
                room = self._ahead() - self._waiting()
                if room > 0:
                    claimed = await self.claim_once(room)
                self._more_due = room <= 0 or claimed >= room
                await self._refresh_backlog()
                if claimed >= room and self._waiting() < self._ahead():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("claiming notifications failed, retrying", exc_info=True)
            try:
                async with asyncio.timeout(self.rules.poll_seconds):
                    await self._woken.wait()
            except TimeoutError:
                pass

    def _ahead(self) -> int:
        """How many jobs may wait for a lane: enough that the intake, which claims new rows
        only while the lanes have room, keeps claiming through a burst (a row it leaves in
        the queue costs a claim of its own, a transaction more per e-mail just when the
        notifier is behind), few enough that none waits long enough for its lease to end (it
        would then be left, and sent after the lease): 32 per lane is a second or two at the
        relay's pace under load, against a lease of tens of seconds."""
        return min(self.rules.batch_size, 32 * (self.rules.email_lanes + 1))

    async def claim_once(self, limit: int | None = None) -> int:
        """Claim the due notifications, plan them and hand the jobs to the lanes; returns how
        many rows were claimed."""
        now = self.clock()
        async with self.uow_factory() as uow:
            rows = await uow.repo.claim_due(
                now, now + self.rules.lease, limit or self.rules.batch_size
            )
            if not rows:
                return 0
            for row in rows:
                row["data"] = json.loads(row["data"])
            jobs = await plan(uow, rows, self.identity, now, self.rules.plan)
            await uow.commit()
        self.hand_over(jobs)
        return len(rows)

    def hand_over(self, jobs: Sequence[Job]) -> None:
        """Jobs claimed and committed: to the lanes."""
        for job in jobs:
            (self._emails if job.email is not None else self._pushes).put_nowait(job)

    async def claim_new(
        self,
        uow: NotifierUnitOfWork,
        items: Sequence[Notification],
        contacts: Mapping[str, PatientContact] | None = None,
    ) -> None:
        """Queue ``items`` in the intake's transaction, claimed for this process as they are
        written and planned there (``contacts``: the profiles that transaction read, if it
        did); their jobs reach the lanes when it commits. As many as the lanes have room
        for; the others, and all of them while the sender is stopped, are queued unclaimed
        for the dispatcher. A crash after the commit leaves the claimed rows to the lease's
        end, as any claim."""
        now = self.clock()
        # Older rows waiting unclaimed go first: then these queue behind them.
        room = self._ahead() - self._waiting() if self._running and not self._more_due else 0
        due: list[Notification] = []
        rest: list[Notification] = []
        for n in items:
            (due if n.not_before is None or n.not_before <= now else rest).append(n)
        due, waiting, windows = await defer_to_windows(uow.repo, due, now, self.rules.plan)
        if waiting:  # until their patient's grouping window ends: the queue's poll finds them
            await uow.repo.add(waiting)
        claimed = due[: max(room, 0)]
        rest += due[len(claimed) :]
        if rest:
            await uow.repo.add(rest)
            uow.queued()
            self._more_due = True
        if not claimed:
            return
        lease = now + self.rules.lease
        written = await uow.repo.add_claimed(claimed, lease)
        rows = [_claimed_row(n, lease) for n in claimed if n.id in written]
        if rows:
            uow.hand_over(
                await plan(uow, rows, self.identity, now, self.rules.plan, contacts, windows)
            )

    async def _refresh_backlog(self) -> None:
        if time.monotonic() - self._backlog_at < 1.0:
            return
        self._backlog_at = time.monotonic()
        async with self.uow_factory() as uow:
            BACKLOG.set(await uow.repo.backlog())

    # --- delivering ---------------------------------------------------------------------------

    def _still_ours(self, job: Job) -> bool:
        """A job whose lease ends before it could be sent is left for the next claim: sending
        it now could send it twice."""
        return job.lease_until - self.clock() > timedelta(seconds=self.rules.send_timeout)

    async def _email_lane(self, transport: MailTransport) -> None:
        while not self._stopping:
            job = await self._emails.get()
            if self._more_due and self._waiting() <= self._ahead() // 2:
                self._woken.set()
            if not self._still_ours(job):
                continue
            try:
                await self.deliver_email(transport, job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording an e-mail failed", extra={"ids": job.ids})

    async def deliver_email(self, transport: MailTransport, job: Job) -> None:
        assert job.email is not None
        started = time.perf_counter()
        try:
            await transport.send(job.email)
        except DeliveryRefused as exc:
            await self._failed(job, NotificationState.FAILED, str(exc))
            return
        except (DeliveryDeferred, OSError, TimeoutError) as exc:
            await self._deferred(job, str(exc) or repr(exc))
            return
        SEND_SECONDS.labels("email").observe(time.perf_counter() - started)
        await self._sent(job)

    async def _push_lane(self) -> None:
        while not self._stopping:
            job = await self._pushes.get()
            if self._more_due and self._waiting() <= self._ahead() // 2:
                self._woken.set()
            if not self._still_ours(job):
                continue
            try:
                await self.deliver_push(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording a push failed", extra={"ids": job.ids})

    async def deliver_push(self, job: Job) -> None:
        assert job.push_token is not None
        started = time.perf_counter()
        data = {"type": "new_message", "notification_id": str(job.data.get("entry", ""))}
        try:
            await self.push.push(job.push_token, APP_TITLE, APP_BODY, data)
        except TokenUnregistered as exc:
            async with self.uow_factory() as uow:
                if job.device_id is not None:
                    await uow.repo.remove_device(job.device_id)
                await uow.repo.record(
                    job.ids, NotificationState.FAILED, attempted=True, error=str(exc)
                )
                await uow.commit()
            NOTIFICATIONS.labels(job.kind.value, NotificationState.FAILED.value).inc()
            log.info("device unregistered, removed", extra={"device": job.device_id})
            return
        except DeliveryRefused as exc:
            await self._failed(job, NotificationState.FAILED, str(exc))
            return
        except (DeliveryDeferred, OSError, TimeoutError) as exc:
            await self._deferred(job, str(exc) or repr(exc))
            return
        SEND_SECONDS.labels("push").observe(time.perf_counter() - started)
        await self._sent(job)

    # --- recording ----------------------------------------------------------------------------

    async def _sent(self, job: Job) -> None:
        """Returns once ``job`` is committed as sent, by the next transaction to commit."""
        await self.sent.sent(job)

    async def _record_sent(self) -> None:
        """A transaction of its own for what was sent, when none other carried it first (one
        that ran meanwhile, holding the database, did: then there is nothing left here)."""
        while True:
            await self.sent.arrived()
            try:
                async with self.uow_factory() as uow:
                    if self.sent.pending:
                        await uow.commit()  # carries them (SentLog.write)
            except Exception as exc:
                self.sent.fail(exc)

    async def _failed(self, job: Job, state: NotificationState, error: str) -> None:
        log.warning("notification failed permanently", extra={"ids": job.ids, "error": error})
        async with self.uow_factory() as uow:
            await uow.repo.record(
                job.ids, state, attempted=True, recipient=job.recipient, error=error
            )
            await uow.commit()
        NOTIFICATIONS.labels(job.kind.value, state.value).inc(len(job.ids))

    async def _deferred(self, job: Job, error: str) -> None:
        now = self.clock()
        if now - job.created_at >= self.rules.retry_for:
            await self._failed(job, NotificationState.FAILED, f"gave up: {error}")
            return
        delay = next_attempt_delay(
            job.attempts + 1, first=self.rules.retry_first, cap=self.rules.retry_max
        )
        async with self.uow_factory() as uow:
            await uow.repo.record(
                job.ids,
                NotificationState.RETRYING,
                attempted=True,
                recipient=job.recipient,
                error=error,
                next_attempt_at=now + delay,
            )
            await uow.commit()
        NOTIFICATIONS.labels(job.kind.value, NotificationState.RETRYING.value).inc(len(job.ids))
