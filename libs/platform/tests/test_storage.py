"""Storage on both engines: migrations, the unit of work with its outbox, idempotency keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, func, insert, select, text

from mes_contracts.events.identity import PatientCreated
from mes_platform.db import Database
from mes_platform.idempotency import (
    IdempotencyKeyReused,
    StoredResponse,
    lookup,
    remember,
    request_fingerprint,
)
from mes_platform.migrations import upgrade_to_head
from mes_platform.outbox import OutboxRow
from mes_platform.tables import outbox
from mes_platform.uow import UnitOfWork


async def _count(db: Database, table: Table) -> int:
    async with db.reading() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_migrations_are_idempotent_on_a_second_start(
    db: Database, migrations: str, effects: Table
) -> None:
    async with db.transaction() as conn:
        await conn.execute(insert(effects).values(event_id="e1", note="kept"))
    await upgrade_to_head(db, migrations)  # the second start
    assert await _count(db, effects) == 1


async def test_commit_writes_the_change_and_its_events_together(
    db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    handed_over: list[list[str]] = []

    async def on_commit(rows: Sequence[OutboxRow]) -> None:
        handed_over.append([r.event_id for r in rows])

    async with UnitOfWork(db, "test", on_commit=on_commit) as uow:
        await uow.conn.execute(insert(effects).values(event_id="e1", note="change"))
        first = uow.emit(event_payload(1))
        second = uow.emit(event_payload(2))
        await uow.commit()
    assert await _count(db, effects) == 1
    async with db.reading() as conn:
        rows = (await conn.execute(select(outbox).order_by(outbox.c.seq))).all()
    assert [r.event_id for r in rows] == [first.id, second.id]
    assert rows[0].subject == PatientCreated.SUBJECT
    # The relay is handed the committed rows once per commit, in order.
    assert handed_over == [[first.id, second.id]]


async def test_an_exception_in_the_block_leaves_neither_change_nor_events(
    db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with UnitOfWork(db, "test") as uow:
            await uow.conn.execute(insert(effects).values(event_id="e1", note="change"))
            uow.emit(event_payload(1))
            raise RuntimeError("boom")
    assert await _count(db, effects) == 0
    assert await _count(db, outbox) == 0


async def test_leaving_without_commit_rolls_back(
    db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    async with UnitOfWork(db, "test") as uow:
        await uow.conn.execute(insert(effects).values(event_id="e1", note="change"))
        uow.emit(event_payload(1))
    assert await _count(db, effects) == 0
    assert await _count(db, outbox) == 0


async def test_the_unit_of_work_can_be_reused_after_a_rollback(
    db: Database, effects: Table, event_payload: Callable[[int], PatientCreated]
) -> None:
    uow = UnitOfWork(db, "test")
    async with uow:
        uow.emit(event_payload(1))
    async with uow:
        await uow.conn.execute(insert(effects).values(event_id="e2", note="second"))
        uow.emit(event_payload(2))
        await uow.commit()
    assert await _count(db, effects) == 1
    assert await _count(db, outbox) == 1


async def test_idempotency_replays_the_stored_answer(db: Database) -> None:
    fingerprint = request_fingerprint({"to": "a", "body": "b"})
    async with db.transaction() as conn:
        assert await lookup(conn, "POST /messages", "k1", fingerprint) is None
        await remember(conn, "POST /messages", "k1", fingerprint, 201, {"id": "m1"})
    async with db.transaction() as conn:
        stored = await lookup(conn, "POST /messages", "k1", fingerprint)
    assert stored == StoredResponse(201, {"id": "m1"})


async def test_idempotency_refuses_a_key_reused_for_another_request(db: Database) -> None:
    async with db.transaction() as conn:
        await remember(conn, "POST /messages", "k1", request_fingerprint({"body": "b"}), 201, {})
    async with db.transaction() as conn:
        with pytest.raises(IdempotencyKeyReused) as caught:
            await lookup(conn, "POST /messages", "k1", request_fingerprint({"body": "other"}))
        # The same key in another scope is another key.
        assert await lookup(conn, "POST /other", "k1", request_fingerprint({"body": "x"})) is None
    assert caught.value.status == 422
    assert caught.value.code == "idempotency_key_reused"


async def test_idempotency_key_stored_with_a_rolled_back_change_is_forgotten(
    db: Database,
) -> None:
    fingerprint = request_fingerprint({"body": "b"})
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await remember(conn, "POST /messages", "k1", fingerprint, 201, {"id": "m1"})
            raise RuntimeError("the change failed")
    async with db.transaction() as conn:
        assert await lookup(conn, "POST /messages", "k1", fingerprint) is None


def test_fingerprint_ignores_key_order() -> None:
    assert request_fingerprint({"a": 1, "b": 2}) == request_fingerprint({"b": 2, "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


async def test_sqlite_checkpoints_run_in_the_background(tmp_path: Path, migrations: str) -> None:
    # A few hundred KB of commits stay below the size at which a commit would checkpoint the
    # WAL itself: only the background checkpoints copy them into the database file.
    path = tmp_path / "checkpoints.db"
    db = Database(f"sqlite+aiosqlite:///{path}", checkpoint_seconds=0.05)
    try:
        await upgrade_to_head(db, migrations)
        size_before = path.stat().st_size
        db.start_checkpoints()
        for n in range(100):
            async with db.transaction() as conn:
                await conn.execute(
                    insert(outbox).values(
                        event_id=f"e{n}",
                        subject="s",
                        body=b"x" * 2000,
                        correlation_id="c",
                        created_at=datetime.now(UTC),
                    )
                )
        for _ in range(100):
            if path.stat().st_size > size_before + 100 * 2000:
                break
            await asyncio.sleep(0.02)
        assert path.stat().st_size > size_before + 100 * 2000
    finally:
        await db.dispose()
    assert db._checkpointer is None  # stopped with the database


async def test_read_sessions_hold_their_postgres_settings_and_writers_keep_the_defaults(
    database_url: str,
) -> None:
    # A service chooses how PostgreSQL plans what it reads: every pooled reading connection,
    # the first and the ones opened beside it, runs with the setting; writes keep the server's.
    db = Database(
        database_url, pool_size=1, postgres_read_settings={"plan_cache_mode": "force_generic_plan"}
    )
    try:
        if db.is_sqlite:
            async with db.reading() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            return
        show = text("SHOW plan_cache_mode")
        async with db.reading() as first, db.reading() as second:
            for conn in (first, second):
                assert (await conn.execute(show)).scalar_one() == "force_generic_plan"
        async with db.transaction() as conn:
            assert (await conn.execute(show)).scalar_one() == "auto"
    finally:
        await db.dispose()
