"""What the lanes sent is committed by whichever transaction commits next; a lane learns it
was recorded only once that commit happened, and nothing is lost when it does not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mes_contracts.internal.notifier import NotificationKind
from mes_notifier.service.planning import Job
from mes_notifier.service.sent import SentLog

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Repo:
    """The two statements the log writes, noted."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, str]] = []
        self.windows: list[str] = []

    async def record_sent(self, sent: list[tuple[str, str]], at: datetime) -> None:
        if self.fail:
            raise OSError("disk I/O error")
        self.sent += sent

    async def mark_windows(self, ins: list[str], at: datetime) -> None:
        self.windows += ins


def _job(n: int) -> Job:
    return Job(
        ids=[f"ntf-{n}"],
        kind=NotificationKind.PATIENT_NEW_MESSAGE,
        recipient=f"p{n}@example.org",
        created_at=NOW,
        lease_until=NOW,
        patient_ins=f"ins{n}",
    )


async def test_a_lane_returns_only_once_the_transaction_that_carried_its_email_committed():
    log = SentLog(lambda: NOW, group_window=True)
    lanes = [asyncio.create_task(log.sent(_job(n))) for n in range(3)]
    await asyncio.sleep(0)
    repo = Repo()
    carried = await log.write(repo)  # type: ignore[arg-type]
    assert repo.sent == [(f"ntf-{n}", f"p{n}@example.org") for n in range(3)]
    assert repo.windows == ["ins0", "ins1", "ins2"]
    await asyncio.sleep(0)
    assert not any(lane.done() for lane in lanes) and log.unrecorded == 3
    log.committed(carried)
    await asyncio.gather(*lanes)
    assert log.unrecorded == 0
    await asyncio.wait_for(log.recorded(), 1)


async def test_what_a_transaction_carried_without_committing_waits_for_the_next_one():
    log = SentLog(lambda: NOW, group_window=False)
    lane = asyncio.create_task(log.sent(_job(1)))
    await asyncio.sleep(0)
    carried = await log.write(Repo())  # type: ignore[arg-type]
    log.not_committed(carried)  # its commit failed, or it rolled back
    assert log.pending == 1 and not lane.done()
    repo = Repo()
    log.committed(await log.write(repo))  # type: ignore[arg-type]
    await lane
    assert repo.sent == [("ntf-1", "p1@example.org")] and repo.windows == []


async def test_a_failed_write_leaves_the_emails_waiting():
    log = SentLog(lambda: NOW, group_window=False)
    lane = asyncio.create_task(log.sent(_job(1)))
    await asyncio.sleep(0)
    with pytest.raises(OSError):
        await log.write(Repo(fail=True))  # type: ignore[arg-type]
    assert log.pending == 1 and log.unrecorded == 1 and not lane.done()
    log.fail(OSError("database gone"))
    with pytest.raises(OSError, match="database gone"):
        await lane


async def test_the_recorder_waits_for_an_open_transaction_to_carry_the_emails():
    log = SentLog(lambda: NOW, group_window=False)
    log.opened()  # the intake's transaction, say
    lane = asyncio.create_task(log.sent(_job(1)))
    recorder = asyncio.create_task(log.arrived())
    await asyncio.sleep(0.01)
    assert not recorder.done()
    log.committed(await log.write(Repo()))  # type: ignore[arg-type]
    log.closed()
    await lane
    await asyncio.sleep(0.01)
    assert not recorder.done()  # nothing left for a transaction of its own
    log.opened()
    log.closed()
    recorder.cancel()
