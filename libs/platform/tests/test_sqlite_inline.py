"""SQLite on the event loop's thread: writers take turns on the single write connection by
waiting on the event loop (never by blocking it), readers run beside the writer, and a
connection nobody closed gives its place back."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from mes_platform.db import Database
from mes_platform.sqlite_inline import InlineAsyncEngine


@pytest.fixture
async def sqlite_db(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER NOT NULL)"))
    try:
        yield db
    finally:
        await db.dispose()


async def test_both_engines_are_inline(sqlite_db: Database) -> None:
    assert isinstance(sqlite_db.engine, InlineAsyncEngine)
    assert isinstance(sqlite_db.read_engine, InlineAsyncEngine)


async def test_a_writer_waits_on_the_event_loop_for_the_one_holding_the_connection(
    sqlite_db: Database,
) -> None:
    order: list[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with sqlite_db.transaction() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append("first wrote")
            holding.set()
            await release.wait()  # holds the write connection across a real wait
        order.append("first committed")

    async def second() -> None:
        await holding.wait()
        async with sqlite_db.transaction() as conn:
            order.append("second began")
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await holding.wait()
    # The second writer is queued, and the loop is free: a reader still runs meanwhile.
    async with sqlite_db.reading() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["first wrote", "first committed", "second began"]
    async with sqlite_db.reading() as conn:
        assert (await conn.scalar(text("SELECT sum(n) FROM t"))) == 3


async def test_a_transaction_holds_the_write_connection_for_no_turn_of_the_event_loop(
    sqlite_db: Database,
) -> None:
    """A write transaction with nothing to wait for runs, commits and gives the connection
    back without letting the event loop run anything else meanwhile: had it yielded while
    holding it (SQLAlchemy's AsyncConnection closes in a task of its own), every writer
    arriving meanwhile would queue behind it, and the queue, handed on one turn at a time,
    would last as long as writers keep coming."""
    others: list[str] = []
    asyncio.get_running_loop().call_soon(others.append, "ran")
    async with sqlite_db.transaction() as conn:
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    async with sqlite_db.reading() as conn:
        assert (await conn.scalar(text("SELECT count(*) FROM t"))) == 1
    assert others == []
    await asyncio.sleep(0)
    assert others == ["ran"]


async def test_a_waiting_writer_gets_the_connection_on_the_next_turn(
    sqlite_db: Database,
) -> None:
    """Handed over on release, the connection is the waiter's on the very next turn of the
    event loop, not a few turns later (as through asyncio.wait_for, a task of its own)."""
    got = asyncio.Event()

    async def waiter() -> None:
        async with sqlite_db.transaction() as conn:
            got.set()
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    holder = await sqlite_db.engine.connect()
    task = asyncio.create_task(waiter())
    for _ in range(3):
        await asyncio.sleep(0)  # the waiter is queued on the connection
    assert not got.is_set()
    await holder.close()
    await asyncio.sleep(0)
    assert got.is_set()
    await task


async def test_a_writer_that_cannot_get_the_connection_in_time_fails(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    engine = db.engine
    assert isinstance(engine, InlineAsyncEngine)
    engine.timeout = 0.05
    try:
        async with engine.connect():
            with pytest.raises(exc.TimeoutError):
                async with engine.connect():
                    pass
        async with engine.connect() as conn:  # free again once the first is closed
            assert (await conn.scalar(text("SELECT 1"))) == 1
    finally:
        await db.dispose()


async def test_a_connection_never_closed_gives_its_place_back(sqlite_db: Database) -> None:
    conn = await sqlite_db.engine.connect()
    await conn.execute(text("SELECT 1"))
    # SQLAlchemy drops the connection and says so: a leak is a bug to fix, not to hide.
    with pytest.warns(exc.SAWarning, match="garbage collector"):
        del conn
        gc.collect()
    async with asyncio.timeout(2):
        async with sqlite_db.transaction() as again:
            await again.execute(text("INSERT INTO t VALUES (3)"))


async def test_a_failed_block_is_rolled_back(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with sqlite_db.transaction() as conn:
            await conn.execute(text("INSERT INTO t VALUES (4)"))
            raise RuntimeError("no")
    async with sqlite_db.reading() as conn:
        assert (await conn.scalar(text("SELECT count(*) FROM t"))) == 0


async def test_a_writer_waits_on_the_event_loop_for_another_process_lock(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Two processes on one database (the mailbox's API and delivery): while one holds the
    write lock, the other's writer waits without stopping its event loop, then writes."""
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")  # as another process
    holding, release = asyncio.Event(), asyncio.Event()
    ticks = 0

    async def hold() -> None:
        async with other.transaction() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            await release.wait()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def write() -> None:
        async with sqlite_db.transaction() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    try:
        holder = asyncio.create_task(hold())
        await holding.wait()
        tick = asyncio.create_task(ticker())
        writer = asyncio.create_task(write())
        await asyncio.sleep(0.2)
        assert not writer.done()  # waiting for the lock...
        assert ticks >= 10  # ...while the loop runs
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, writer), 5)
        tick.cancel()
        async with sqlite_db.reading() as conn:
            assert (await conn.scalar(text("SELECT sum(n) FROM t"))) == 3
    finally:
        await other.dispose()


async def test_a_writer_gives_up_when_another_process_keeps_the_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}")
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER NOT NULL)"))
    db.engine.lock_wait_s = 0.1  # type: ignore[attr-defined]
    shell = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)  # an operator's shell
    shell.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(exc.OperationalError):
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        shell.execute("ROLLBACK")
        shell.close()
    async with db.transaction() as conn:  # the connection is usable again
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    await db.dispose()
