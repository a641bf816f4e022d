"""Group commit on SQLite: units of work of the same turn of the event loop commit together,
and each still commits, fails or leaves as it would alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Table, func, insert, select, text

from mes_contracts.events.identity import PatientCreated
from mes_platform.db import Database
from mes_platform.group_commit import CommitGroup
from mes_platform.migrations import upgrade_to_head
from mes_platform.outbox import OutboxRow
from mes_platform.tables import outbox
from mes_platform.uow import UnitOfWork


@pytest.fixture
async def sqlite_db(tmp_path: Path, migrations: str) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'group.db'}")
    await upgrade_to_head(database, migrations)
    try:
        yield database
    finally:
        await database.dispose()


class Handed:
    """What the group hands to the relay, one list per call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, rows: Sequence[OutboxRow]) -> None:
        self.calls.append([r.event_id for r in rows])


async def _count(db: Database, table: Table) -> int:
    async with db.reading() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def _commits() -> tuple[float, float]:
    labels = {"service": "test"}
    return (
        REGISTRY.get_sample_value("mes_group_commits_total", labels) or 0.0,
        REGISTRY.get_sample_value("mes_group_commit_members_total", labels) or 0.0,
    )


async def test_units_of_work_of_one_turn_commit_once_with_their_events_in_order(
    sqlite_db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    handed = Handed()
    group = CommitGroup(sqlite_db, "test", on_commit=handed)
    commits_before, members_before = _commits()
    emitted: dict[int, str] = {}

    async def write(n: int) -> None:
        async with UnitOfWork(sqlite_db, "test", group=group) as uow:
            await uow.conn.execute(insert(effects).values(event_id=f"e{n}", note="change"))
            emitted[n] = uow.emit(event_payload(n)).id
            await uow.commit()
        # Returned: committed, readable from another connection.
        async with sqlite_db.reading() as conn:
            found = await conn.scalar(select(effects.c.note).where(effects.c.event_id == f"e{n}"))
        assert found == "change"

    await asyncio.gather(*(write(n) for n in range(10)))
    commits_after, members_after = _commits()
    assert members_after - members_before == 10
    assert commits_after - commits_before == 1  # one turn, one transaction
    assert await _count(sqlite_db, effects) == 10
    assert handed.calls == [[emitted[n] for n in range(10)]]  # in the order they committed
    async with sqlite_db.reading() as conn:
        stored = (await conn.execute(select(outbox.c.event_id).order_by(outbox.c.seq))).all()
    assert [r.event_id for r in stored] == [emitted[n] for n in range(10)]


async def test_a_failing_or_leaving_member_takes_only_its_own_writes_away(
    sqlite_db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    handed = Handed()
    group = CommitGroup(sqlite_db, "test", on_commit=handed)

    async def write(n: int) -> None:
        async with UnitOfWork(sqlite_db, "test", group=group) as uow:
            await uow.conn.execute(insert(effects).values(event_id=f"e{n}", note="change"))
            uow.emit(event_payload(n))
            if n == 1:
                raise RuntimeError("boom")
            if n == 2:
                return  # leaves without committing
            await uow.commit()

    results = await asyncio.gather(*(write(n) for n in range(4)), return_exceptions=True)
    assert isinstance(results[1], RuntimeError)
    assert [r for i, r in enumerate(results) if i != 1] == [None, None, None]
    async with sqlite_db.reading() as conn:
        kept = sorted((await conn.execute(select(effects.c.event_id))).scalars())
    assert kept == ["e0", "e3"]
    assert await _count(sqlite_db, outbox) == 2
    assert sum(len(call) for call in handed.calls) == 2


async def test_a_member_sees_the_writes_of_those_before_it_in_the_transaction(
    sqlite_db: Database, effects: Table
) -> None:
    group = CommitGroup(sqlite_db, "test")
    seen: list[int] = []

    async def write(n: int) -> None:
        async with UnitOfWork(sqlite_db, "test", group=group) as uow:
            count = await uow.conn.scalar(select(func.count()).select_from(effects))
            seen.append(int(count or 0))
            await uow.conn.execute(insert(effects).values(event_id=f"e{n}", note="change"))
            await uow.commit()

    await asyncio.gather(*(write(n) for n in range(5)))
    assert seen == [0, 1, 2, 3, 4]


async def _deferred_foreign_key(db: Database) -> None:
    """A deferred foreign key is checked at COMMIT: the one way SQLite refuses a commit."""
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        await conn.execute(
            text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
                "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )


async def test_a_refused_commit_leaves_the_write_connection_usable(
    sqlite_db: Database, effects: Table
) -> None:
    """Without a group too: SQLite keeps a transaction open after a refused COMMIT, and the
    single write connection must not carry it into the next unit of work."""
    await _deferred_foreign_key(sqlite_db)
    with pytest.raises(Exception, match="FOREIGN KEY"):
        async with UnitOfWork(sqlite_db, "test") as uow:
            await uow.conn.execute(insert(effects).values(event_id="lost", note="change"))
            await uow.conn.execute(text("INSERT INTO child (parent_id) VALUES (42)"))
            await uow.commit()
    async with UnitOfWork(sqlite_db, "test") as uow:
        await uow.conn.execute(insert(effects).values(event_id="kept", note="change"))
        await uow.commit()
    async with sqlite_db.reading() as conn:
        kept = list((await conn.execute(select(effects.c.event_id))).scalars())
    assert kept == ["kept"]


async def test_a_failed_commit_fails_every_member_and_keeps_nothing(
    sqlite_db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    await _deferred_foreign_key(sqlite_db)
    handed = Handed()
    group = CommitGroup(sqlite_db, "test", on_commit=handed)

    async def write(n: int) -> None:
        async with UnitOfWork(sqlite_db, "test", group=group) as uow:
            await uow.conn.execute(insert(effects).values(event_id=f"e{n}", note="change"))
            if n == 2:
                await uow.conn.execute(text("INSERT INTO child (parent_id) VALUES (42)"))
            uow.emit(event_payload(n))
            await uow.commit()

    results = await asyncio.gather(*(write(n) for n in range(4)), return_exceptions=True)
    assert all(isinstance(r, Exception) and "FOREIGN KEY" in str(r) for r in results), results
    assert await _count(sqlite_db, effects) == 0
    assert await _count(sqlite_db, outbox) == 0
    assert handed.calls == []
    # The group goes on: the next unit of work commits on its own.
    await write(7)
    assert await _count(sqlite_db, effects) == 1


async def test_a_group_holds_at_most_max_members(sqlite_db: Database, effects: Table) -> None:
    group = CommitGroup(sqlite_db, "test", max_members=4)
    commits_before, _ = _commits()

    async def write(n: int) -> None:
        async with UnitOfWork(sqlite_db, "test", group=group) as uow:
            await uow.conn.execute(insert(effects).values(event_id=f"e{n}", note="change"))
            await uow.commit()

    await asyncio.gather(*(write(n) for n in range(10)))
    commits_after, _ = _commits()
    assert commits_after - commits_before == 3  # 4 + 4 + 2
    assert await _count(sqlite_db, effects) == 10


async def test_other_writers_of_the_process_wait_for_the_group_and_see_its_writes(
    sqlite_db: Database, effects: Table
) -> None:
    group = CommitGroup(sqlite_db, "test")

    async def member() -> None:
        async with UnitOfWork(sqlite_db, "test", group=group) as uow:
            await uow.conn.execute(insert(effects).values(event_id="g", note="group"))
            await uow.commit()

    async def other() -> int:
        async with sqlite_db.transaction() as conn:  # the single write connection, after the group
            count = await conn.scalar(select(func.count()).select_from(effects))
            await conn.execute(insert(effects).values(event_id="o", note="other"))
            return int(count or 0)

    _, seen = await asyncio.gather(member(), other())
    assert seen == 1
    assert await _count(sqlite_db, effects) == 2
