"""The event bus tells who listens when the connection to NATS is lost and when it is back:
what a plain subscription received is incomplete there."""

from __future__ import annotations

import asyncio

from mes_platform.bus import EventBus
from mes_platform.testing import NatsServer


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
