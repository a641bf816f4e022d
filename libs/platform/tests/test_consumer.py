"""Durable consumers: each event's effect happens once, failures are retried then parked, and
a lone event is handled promptly."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import Table, insert, select

from mes_contracts import EventEnvelope
from mes_contracts.events.identity import PatientCreated
from mes_dev.testing import NatsServer
from mes_platform.bus import EventBus
from mes_platform.consumer import EventConsumer
from mes_platform.db import Database
from mes_platform.tables import parked_events, processed_events
from mes_platform.uow import UnitOfWork

Handler = Callable[[UnitOfWork, EventEnvelope], Awaitable[None]]
Start = Callable[..., Awaitable[EventConsumer[UnitOfWork]]]


@pytest.fixture
async def start_consumer(db: Database, bus: EventBus) -> AsyncIterator[Start]:
    started: list[EventConsumer[UnitOfWork]] = []

    async def start(handler: Handler, **options: Any) -> EventConsumer[UnitOfWork]:
        uow_factory = options.pop("uow_factory", lambda: UnitOfWork(db, "test"))
        options.setdefault("poll_seconds", 0.2)  # a quicker stop
        consumer = EventConsumer(
            bus=bus,
            service="test",
            durable="test-effects",
            stream="MES_IDENTITY",
            subjects=["mes.identity.>"],
            uow_factory=uow_factory,
            handler=handler,
            **options,
        )
        consumer.start()
        started.append(consumer)
        await asyncio.wait_for(consumer.ready.wait(), 5)
        return consumer

    yield start
    for consumer in started:
        await consumer.stop()


async def _publish(bus: EventBus, envelope: EventEnvelope, msg_id: str | None = None) -> None:
    await bus.ensure_streams(["MES_IDENTITY"])
    await bus.js.publish(
        envelope.type, envelope.to_json_bytes(), headers={"Nats-Msg-Id": msg_id or envelope.id}
    )


async def _rows(db: Database, table: Table) -> list[Any]:
    async with db.reading() as conn:
        return list((await conn.execute(select(table))).all())


async def _wait_for(predicate: Callable[[], Awaitable[bool]], patience: float = 5.0) -> None:
    deadline = time.monotonic() + patience
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def _wait_for_effects(
    db: Database, effects: Table, count: int, patience: float = 5.0
) -> None:
    """Until at least ``count`` effects are recorded: the callers then check exactly which."""

    async def enough() -> bool:
        return len(await _rows(db, effects)) >= count

    await _wait_for(enough, patience)


def _recording(effects: Table) -> Handler:
    async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        await uow.conn.execute(insert(effects).values(event_id=envelope.id, note="handled"))

    return handle


def _wrap(payload: PatientCreated) -> EventEnvelope:
    return EventEnvelope.wrap(payload, correlation_id="req-1")


async def test_an_event_published_twice_with_two_msg_ids_is_handled_once(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    first, second = _wrap(event_payload(1)), _wrap(event_payload(2))
    await start_consumer(_recording(effects))
    await _publish(bus, first)
    await _publish(bus, first, msg_id="another-msg-id")  # past the server's de-duplication
    await _publish(bus, second)

    await _wait_for_effects(db, effects, 2)
    await asyncio.sleep(0.2)  # room for a wrong second effect to land
    assert sorted(r.event_id for r in await _rows(db, effects)) == sorted([first.id, second.id])
    assert len(await _rows(db, processed_events)) == 2


async def test_an_event_redelivered_after_its_commit_has_one_effect(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    # The process dies between the commit and the ack: here the commit's after-hook fails
    # once, so the message is not acknowledged and comes back.
    crashes = [RuntimeError("crash after commit")]

    async def after_commit(_rows: object) -> None:
        if crashes:
            raise crashes.pop()

    async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        await uow.conn.execute(insert(effects).values(event_id=envelope.id, note="handled"))
        uow.emit(event_payload(99))  # a commit with events calls the hook

    await start_consumer(
        handle, uow_factory=lambda: UnitOfWork(db, "test", after_commit), retry_delay=0.01
    )
    event = _wrap(event_payload(1))
    await _publish(bus, event)

    async def redelivered() -> bool:
        return not crashes and len(await _rows(db, processed_events)) == 1

    await _wait_for(redelivered)
    await asyncio.sleep(0.3)
    assert [r.event_id for r in await _rows(db, effects)] == [event.id]
    assert await _rows(db, parked_events) == []


async def test_a_handler_failing_once_has_exactly_one_effect(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    calls: list[str] = []

    async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        calls.append(envelope.id)
        await uow.conn.execute(insert(effects).values(event_id=envelope.id, note="attempt"))
        if len(calls) == 1:
            raise RuntimeError("transient failure after writing")

    await start_consumer(handle, retry_delay=0.01)
    event = _wrap(event_payload(1))
    await _publish(bus, event)

    async def handled() -> bool:
        return len(await _rows(db, processed_events)) == 1

    await _wait_for(handled)
    assert calls == [event.id, event.id]
    assert [r.event_id for r in await _rows(db, effects)] == [event.id]


async def test_an_event_that_keeps_failing_is_parked_and_the_others_flow(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    poison = _wrap(event_payload(1))
    attempts: list[str] = []
    record = _recording(effects)

    async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        if envelope.id == poison.id:
            attempts.append(envelope.id)
            raise ValueError("cannot handle this one")
        await record(uow, envelope)

    await start_consumer(handle, max_deliver=3, retry_delay=0.01)
    others = [_wrap(event_payload(n)) for n in (2, 3)]
    for envelope in [poison, *others]:
        await _publish(bus, envelope)

    async def parked() -> bool:
        return len(await _rows(db, parked_events)) == 1

    await _wait_for(parked)
    (row,) = await _rows(db, parked_events)
    assert (row.event_id, row.consumer, row.deliveries) == (poison.id, "test-effects", 3)
    assert row.subject == PatientCreated.SUBJECT
    assert EventEnvelope.from_json_bytes(row.body) == poison
    assert "cannot handle this one" in row.error
    assert len(attempts) == 3

    later = _wrap(event_payload(4))
    await _publish(bus, later)

    await _wait_for_effects(db, effects, 3)
    await asyncio.sleep(0.2)
    assert len(attempts) == 3  # parked means no more attempts
    assert {r.event_id for r in await _rows(db, effects)} == {e.id for e in [*others, later]}


async def test_an_unreadable_message_is_parked(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    await start_consumer(_recording(effects))
    await bus.ensure_streams(["MES_IDENTITY"])
    await bus.js.publish(PatientCreated.SUBJECT, b"not json", headers={"Nats-Msg-Id": "junk-1"})
    good = _wrap(event_payload(1))
    await _publish(bus, good)

    async def done() -> bool:
        return len(await _rows(db, parked_events)) == 1 and len(await _rows(db, effects)) == 1

    await _wait_for(done)
    (row,) = await _rows(db, parked_events)
    assert (row.event_id, row.body) == ("junk-1", b"not json")


@pytest.mark.parametrize("batched", [False, True])
async def test_a_lone_event_is_handled_promptly_when_the_consumer_is_idle(
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
    batched: bool,
) -> None:
    """Batched too: an event after a pause longer than the linger does not wait for others."""
    handled: dict[str, float] = {}
    record = _recording(effects)

    async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        await record(uow, envelope)
        handled[envelope.id] = time.perf_counter()

    async def handle_many(uow: UnitOfWork, envelopes: Sequence[EventEnvelope]) -> None:
        for envelope in envelopes:
            await handle(uow, envelope)

    if batched:
        await start_consumer(handle, batch_handler=handle_many, linger_seconds=0.25)
    else:
        await start_consumer(handle)
    await _publish(bus, _wrap(event_payload(0)))  # stream and consumer warmed up
    await _wait_for(lambda: _true_when(len(handled) == 1))
    latencies = []
    for n in range(1, 6):
        await asyncio.sleep(0.3)  # idle: the consumer waits for a delivery
        event = _wrap(event_payload(n))
        sent = time.perf_counter()
        await _publish(bus, event)
        await _wait_for(lambda: _true_when(event.id in handled))
        latencies.append(handled[event.id] - sent)
    print(f"publish-to-handled latency: {[round(x * 1000, 1) for x in latencies]} ms")
    assert max(latencies) < 0.2


async def _true_when(value: bool) -> bool:
    return value


async def test_an_event_held_by_a_consumer_that_died_comes_to_the_next_after_ack_wait(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    """A process killed while handling an event neither acknowledges it nor gives it back:
    the server sends it again after ``ack_wait``, to whichever process consumes then."""
    received = asyncio.Event()

    async def stuck(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        received.set()
        await asyncio.Event().wait()  # never returns: the process dies in here

    dying = await start_consumer(stuck, ack_wait=1.0)
    event = _wrap(event_payload(0))
    await _publish(bus, event)
    await asyncio.wait_for(received.wait(), 5)
    # Killed: no acknowledgement, no negative one, the subscription gone with the process.
    assert dying._task is not None
    dying._task.cancel()
    await asyncio.gather(dying._task, return_exceptions=True)
    await dying._sub.unsubscribe()
    dying._sub, dying._buffer = None, []
    started = time.monotonic()
    await start_consumer(_recording(effects), ack_wait=1.0)
    await _wait_for_effects(db, effects, 1, patience=5.0)
    assert time.monotonic() - started < 3.0
    assert [r.event_id for r in await _rows(db, effects)] == [event.id]


async def test_a_consumer_created_with_another_ack_wait_takes_the_new_one(
    bus: EventBus, start_consumer: Start, effects: Table
) -> None:
    """The setting applies to a consumer that already exists (an upgraded deployment)."""
    first = await start_consumer(_recording(effects), ack_wait=30.0)
    await first.stop()
    await start_consumer(_recording(effects), ack_wait=2.0)
    info = await bus.js.consumer_info("MES_IDENTITY", "test-effects")
    assert info.config.ack_wait == 2.0


async def test_events_arriving_together_are_stored_in_one_transaction(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    # Events per transaction: the first after a pause is handled at once, alone if it came
    # alone (nothing to wait for yet); those that follow it within the linger share one.
    batches: list[int] = []
    record = _recording(effects)

    async def handle_one(uow: UnitOfWork, envelope: EventEnvelope) -> None:
        batches.append(1)
        await record(uow, envelope)

    async def handle_many(uow: UnitOfWork, envelopes: Sequence[EventEnvelope]) -> None:
        batches.append(len(envelopes))
        for envelope in envelopes:
            await record(uow, envelope)

    await start_consumer(handle_one, batch_handler=handle_many, linger_seconds=0.25, batch_size=64)
    events = [_wrap(event_payload(n)) for n in range(40)]
    await bus.ensure_streams(["MES_IDENTITY"])
    acks = [
        await bus.js.publish_async(e.type, e.to_json_bytes(), headers={"Nats-Msg-Id": e.id})
        for e in events
    ]
    await asyncio.gather(*acks)

    await _wait_for_effects(db, effects, len(events))
    await asyncio.sleep(0.2)
    assert sorted(r.event_id for r in await _rows(db, effects)) == sorted(e.id for e in events)
    assert sum(batches) == len(events) and len(batches) < len(events) / 4, batches


async def test_a_pull_consumer_of_an_earlier_version_is_replaced_and_resumes_where_it_was(
    db: Database,
    bus: EventBus,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    events = [_wrap(event_payload(n)) for n in range(3)]
    for e in events:
        await _publish(bus, e)
    # An earlier version's pull consumer, which handled (acknowledged) the first two.
    await bus.js.add_consumer(
        "MES_IDENTITY",
        ConsumerConfig(
            durable_name="test-effects",
            ack_policy=AckPolicy.EXPLICIT,
            filter_subjects=["mes.identity.>"],
        ),
    )
    pull = await bus.js.pull_subscribe_bind("test-effects", stream="MES_IDENTITY")
    for msg in await pull.fetch(2, timeout=2):
        await msg.ack_sync()  # the server has recorded it before the consumer is replaced
    await pull.unsubscribe()

    await start_consumer(_recording(effects))
    later = _wrap(event_payload(9))
    await _publish(bus, later)

    await _wait_for_effects(db, effects, 2)
    await asyncio.sleep(0.2)
    assert sorted(r.event_id for r in await _rows(db, effects)) == sorted([events[2].id, later.id])
    info = await bus.js.consumer_info("MES_IDENTITY", "test-effects")
    assert info.config.deliver_subject  # now pushed to the service's queue group


async def test_a_consumer_finds_its_way_back_to_a_server_that_lost_its_store(
    db: Database,
    bus: EventBus,
    nats_server: NatsServer,
    effects: Table,
    start_consumer: Start,
    event_payload: Callable[[int], PatientCreated],
) -> None:
    await start_consumer(_recording(effects))
    before = _wrap(event_payload(1))
    await _publish(bus, before)

    await _wait_for_effects(db, effects, 1)
    nats_server.kill()
    shutil.rmtree(nats_server.store_dir / "jetstream", ignore_errors=True)
    nats_server.start()
    await bus.wait_connected(timeout=10)
    after = _wrap(event_payload(2))
    for _ in range(50):  # the stream is created again by the publisher
        try:
            await _publish(bus, after)
            break
        except Exception:
            await asyncio.sleep(0.1)

    await _wait_for_effects(db, effects, 2, patience=10)
    assert sorted(r.event_id for r in await _rows(db, effects)) == sorted([before.id, after.id])
    assert (await bus.js.stream_info("MES_IDENTITY")).state.messages == 1  # a new store
