"""The event bus tells who listens when the connection to NATS is lost and when it is back:
what a plain subscription received is incomplete there."""

from __future__ import annotations

import asyncio
import threading
import time

import nats
from nats.aio.msg import Msg

from mes_dev.testing import NatsServer
from mes_platform.bus import EventBus, PlainSubscription


async def test_listeners_hear_of_the_disconnection_and_the_reconnection(
    bus: EventBus, nats_server: NatsServer
) -> None:
    heard: list[bool] = []
    bus.on_connection_change(lambda: heard.append(bus.is_connected))

    def broken() -> None:
        raise RuntimeError("a failing listener does not silence the others")

    bus.on_connection_change(broken)
    nats_server.kill()
    for _ in range(200):
        if heard:
            break
        await asyncio.sleep(0.02)
    assert heard == [False]
    nats_server.start()
    await bus.wait_connected(timeout=10)
    for _ in range(200):
        if len(heard) == 2:
            break
        await asyncio.sleep(0.02)
    assert heard == [False, True]


def _listener(url: str, subject: str) -> tuple[threading.Thread, threading.Event]:
    """A subscriber on its own thread, event loop and connection; returns once subscribed."""
    ready, received = threading.Event(), threading.Event()

    def listen() -> None:
        async def main() -> None:
            nc = await nats.connect(url)

            async def on_message(_msg: Msg) -> None:
                received.set()

            await nc.subscribe(subject, cb=on_message)
            await nc.flush()
            ready.set()
            await asyncio.to_thread(received.wait, 5)
            await nc.close()

        asyncio.run(main())

    thread = threading.Thread(target=listen)
    thread.start()
    if not ready.wait(5):
        raise TimeoutError("the listener did not subscribe")
    return thread, received


async def test_a_message_sent_now_leaves_even_if_the_event_loop_stays_busy(
    bus: EventBus, nats_server: NatsServer
) -> None:
    """What a relay publishes at commit goes on the wire before the request's answer, not when
    the client's flusher gets a turn of a busy event loop."""
    listener, received = await asyncio.to_thread(_listener, nats_server.url, "mes.test.now")
    await bus.nc.publish("mes.test.now", b"x")
    bus.send_now()
    time.sleep(0.5)  # noqa: ASYNC251 - the event loop is kept busy on purpose
    assert received.is_set()
    listener.join(5)


async def test_without_send_now_a_busy_event_loop_holds_the_message(
    bus: EventBus, nats_server: NatsServer
) -> None:
    """The case send_now is for (and the proof that the test above can fail)."""
    listener, received = await asyncio.to_thread(_listener, nats_server.url, "mes.test.later")
    await bus.nc.publish("mes.test.later", b"x")
    time.sleep(0.3)  # noqa: ASYNC251
    assert not received.is_set()
    assert await asyncio.to_thread(received.wait, 5)  # sent once the loop turns
    listener.join(5)


async def test_a_plain_subscription_hears_of_its_gaps_and_stops_hearing_when_stopped(
    bus: EventBus, nats_server: NatsServer
) -> None:
    received: list[bytes] = []
    gaps: list[bool] = []

    async def handler(msg: Msg) -> None:
        received.append(msg.data)

    subscription = PlainSubscription(
        bus, "mes.test.plain", handler, name="test", on_gap=lambda: gaps.append(True)
    )
    subscription.start()
    await asyncio.wait_for(subscription.subscribed.wait(), 5)
    assert subscription.live() and gaps == [True]  # in place: what came before is unknown

    await bus.nc.publish("mes.test.plain", b"one")
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.01)
    assert received == [b"one"]

    await subscription.stop()
    assert not subscription.live()
    await bus.nc.publish("mes.test.plain", b"two")
    await bus.nc.flush()
    await asyncio.sleep(0.1)
    assert received == [b"one"]  # unsubscribed
    nats_server.kill()
    for _ in range(100):
        if not bus.is_connected:
            break
        await asyncio.sleep(0.02)
    assert gaps == [True]  # no longer listening to the connection either
    nats_server.start()
    await bus.wait_connected(timeout=10)
