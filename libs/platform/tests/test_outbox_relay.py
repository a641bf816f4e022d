"""The relay publishes what the unit of work wrote, once, with the event id as Nats-Msg-Id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from sqlalchemy import func, select

from mes_contracts import EventEnvelope
from mes_contracts.events.identity import PatientCreated
from mes_dev.testing import NatsServer
from mes_platform.bus import EventBus
from mes_platform.db import Database
from mes_platform.outbox import OutboxRelay, write_events
from mes_platform.runtime import ServiceRuntime
from mes_platform.settings import ServiceSettings
from mes_platform.tables import outbox
from mes_platform.uow import UnitOfWork

Reader = Callable[..., Awaitable[list[Msg]]]


async def _pending(db: Database) -> int:
    async with db.reading() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())


async def _drained(db: Database, patience: float = 2.0) -> None:
    """Until the relay has deleted every row (or ``patience`` has run out)."""
    for _ in range(int(patience / 0.01)):
        if await _pending(db) == 0:
            return
        await asyncio.sleep(0.01)


async def test_committed_events_are_published_with_their_id_as_msg_id(
    db: Database,
    bus: EventBus,
    stream_reader: Reader,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    async with UnitOfWork(db, "test") as uow:
        sent = [uow.emit(event_payload(n), correlation_id="req-1") for n in range(5)]
        await uow.commit()
    relay = OutboxRelay(db, bus, "test")
    assert await relay.publish_pending() == 5

    msgs = await stream_reader(bus, "MES_IDENTITY")
    assert [m.headers["Nats-Msg-Id"] for m in msgs if m.headers] == [e.id for e in sent]
    assert [EventEnvelope.from_json_bytes(m.data) for m in msgs] == sent
    assert {m.subject for m in msgs} == {PatientCreated.SUBJECT}
    assert all(m.headers and m.headers["X-Request-ID"] == "req-1" for m in msgs)
    assert await _pending(db) == 0


async def test_publishing_the_same_event_twice_stores_it_once(
    db: Database,
    bus: EventBus,
    stream_reader: Reader,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    # A relay that died after publishing but before deleting its rows publishes them again.
    event = EventEnvelope.wrap(event_payload(1), correlation_id="req-1")
    relay = OutboxRelay(db, bus, "test")
    for _ in range(2):
        async with db.transaction() as conn:
            await write_events(conn, [event])
        await relay.publish_pending()
    async with db.transaction() as conn:
        await write_events(conn, [EventEnvelope.wrap(event_payload(2), correlation_id="req-2")])
    await relay.publish_pending()

    msgs = await stream_reader(bus, "MES_IDENTITY")
    assert len(msgs) == 2
    assert EventEnvelope.from_json_bytes(msgs[0].data).id == event.id
    assert await _pending(db) == 0


async def test_stop_flushes_what_was_committed(
    db: Database,
    bus: EventBus,
    stream_reader: Reader,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    relay = OutboxRelay(db, bus, "test", poll_seconds=30)
    relay.start()
    async with UnitOfWork(db, "test") as uow:  # nobody wakes the relay
        uow.emit(event_payload(1))
        await uow.commit()
    await relay.stop()
    assert await _pending(db) == 0
    assert len(await stream_reader(bus, "MES_IDENTITY")) == 1


async def test_a_commit_is_published_at_once_without_reading_the_table(
    db: Database,
    bus: EventBus,
    stream_reader: Reader,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    relay = OutboxRelay(db, bus, "test", poll_seconds=30)
    relay.start()
    try:
        await bus.ensure_streams(["MES_IDENTITY"])
        await asyncio.sleep(0.1)  # the start's pass over the (empty) table is done
        table_passes = 0
        read_table = relay.publish_pending

        async def counting() -> int:
            nonlocal table_passes
            table_passes += 1
            return await read_table()

        relay.publish_pending = counting  # type: ignore[method-assign]
        events = []
        for n in range(5):
            async with UnitOfWork(db, "test", on_commit=relay.committed) as uow:
                events.append(uow.emit(event_payload(n)))
                await uow.commit()
        await _drained(db)
        assert await _pending(db) == 0  # acknowledged, then deleted
        assert table_passes == 0
    finally:
        await relay.stop()
    msgs = await stream_reader(bus, "MES_IDENTITY")
    assert [m.headers["Nats-Msg-Id"] for m in msgs if m.headers] == [e.id for e in events]


async def test_rows_of_a_commit_that_could_not_be_published_go_from_the_table(
    db: Database,
    bus: EventBus,
    stream_reader: Reader,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    # The stream does not exist yet: the commit cannot publish at once, and wakes the relay,
    # which creates the stream and publishes from the table. A long poll: only the wake-up
    # can publish within the test's patience.
    relay = OutboxRelay(db, bus, "test", poll_seconds=30)
    relay.start()
    try:
        async with UnitOfWork(db, "test", on_commit=relay.committed) as uow:
            event = uow.emit(event_payload(1))
            await uow.commit()
        await _drained(db)
        assert await _pending(db) == 0
    finally:
        await relay.stop()
    msgs = await stream_reader(bus, "MES_IDENTITY")
    assert [m.headers["Nats-Msg-Id"] for m in msgs if m.headers] == [event.id]


@pytest.mark.parametrize("background_work", [True, False])
async def test_only_a_process_doing_the_background_work_publishes_the_outbox(
    tmp_path: Path,
    nats_server: NatsServer,
    migrations: str,
    event_payload: Callable[[int], PatientCreated],
    background_work: bool,
) -> None:
    """A row left in the table (its writer died before handing it over) is published by a
    process that runs the relay; a process that only serves reads on the same database
    leaves it to the writer, rather than publish the writer's events a second time."""
    settings = ServiceSettings(
        service_name="platformtest",
        data_dir=tmp_path,
        nats_url=nats_server.url,
        background_work=background_work,
        relay_poll_seconds=0.05,
        log_json=False,
    )
    runtime = ServiceRuntime(settings, migrations=migrations)
    await runtime.start()
    try:
        await runtime.bus.wait_connected(timeout=5)
        async with UnitOfWork(runtime.db, "test") as uow:  # nothing handed to a relay
            uow.emit(event_payload(1))
            await uow.commit()
        if background_work:
            await _drained(runtime.db)
            assert await _pending(runtime.db) == 0
        else:
            await asyncio.sleep(0.5)  # ten polls of a relay, had it run
            assert await _pending(runtime.db) == 1
    finally:
        await runtime.stop()
