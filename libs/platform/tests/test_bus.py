"""The event bus tells who listens when the connection to NATS is lost and when it is back:
what a plain subscription received is incomplete there."""

from __future__ import annotations

import asyncio

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
