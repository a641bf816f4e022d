"""Every profile change reaches the stream exactly once, whatever happens to NATS or to the
service process in between."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from mes_contracts import EventEnvelope
from mes_contracts.events.identity import PatientCreated
from mes_dev.testing import NatsServer
from mes_identity.main import create_app
from mes_identity.settings import IdentitySettings
from mes_platform.tables import outbox

Reader = Callable[..., Awaitable[list[EventEnvelope]]]
COUNT = 200


def _assert_once_each(envelopes: list[EventEnvelope], expected: set[str]) -> None:
    assert len({e.id for e in envelopes}) == len(envelopes), "an event id was published twice"
    created = [e.payload["ins"] for e in envelopes if e.type == PatientCreated.SUBJECT]
    duplicates = [ins for ins, n in Counter(created).items() if n > 1]
    assert not duplicates, f"patients announced twice: {duplicates[:5]}"
    assert set(created) == expected, f"missing: {sorted(expected - set(created))[:5]}"


async def test_killing_nats_while_events_are_emitted_loses_none_and_doubles_none(
    identity: Any,
    nats_server: NatsServer,
    stream_reader: Reader,
    ins: Callable[[int], str],
) -> None:
    done: list[int] = []
    a_third_done = asyncio.Event()

    async def create_patients() -> None:
        for n in range(COUNT):
            response = await identity.put(n)
            assert response.status_code == 201, response.text
            done.append(n)
            if len(done) == COUNT // 3:
                a_third_done.set()
            await asyncio.sleep(0.002)  # an ops import, not a single burst

    writer = asyncio.create_task(create_patients())
    await a_third_done.wait()
    nats_server.kill()
    killed_at = len(done)
    await asyncio.sleep(1.0)
    nats_server.start()
    await writer
    assert killed_at < COUNT, "NATS went down while the service was emitting"

    async def outbox_empty() -> bool:
        return bool(await identity.pending_events() == 0)

    envelopes = await stream_reader(nats_server.url, settle=outbox_empty)
    _assert_once_each(envelopes, {ins(n) for n in range(COUNT)})


async def test_a_restart_with_events_pending_loses_none(
    tmp_path: Path,
    nats_server: NatsServer,
    stream_reader: Reader,
    ins: Callable[[int], str],
) -> None:
    settings = IdentitySettings(data_dir=tmp_path, nats_url=nats_server.url)
    app = create_app(settings)
    token = {"X-Internal-Token": settings.internal_token.get_secret_value()}
    transport = httpx.ASGITransport(app=app)

    async def put(http: httpx.AsyncClient, n: int) -> None:
        response = await http.put(
            f"/internal/patients/{ins(n)}",
            json={"state": "created", "birth_name": "X", "first_names": "Y"},
        )
        assert response.status_code == 201, response.text

    async def pending() -> int:
        async with app.state.runtime.db.reading() as conn:
            return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t", headers=token) as http,
    ):
        await app.state.runtime.bus.wait_connected(timeout=5)
        for n in range(10):
            await put(http, n)
        nats_server.kill()  # the next changes cannot be published before the stop
        for n in range(10, 30):
            await put(http, n)
    # Stopped with events in the outbox.
    assert await pending() > 0

    nats_server.start()
    # The same application started again: its lifespan re-entered.
    async with app.router.lifespan_context(app):

        async def outbox_empty() -> bool:
            return await pending() == 0

        envelopes = await stream_reader(nats_server.url, settle=outbox_empty)
    _assert_once_each(envelopes, {ins(n) for n in range(30)})


async def test_a_new_process_publishes_what_the_previous_one_left(
    tmp_path: Path,
    nats_server: NatsServer,
    start_identity: Any,
    stream_reader: Reader,
    ins: Callable[[int], str],
) -> None:
    settings = IdentitySettings(data_dir=tmp_path, nats_url=nats_server.url)
    nats_server.kill()
    async with start_identity(settings) as service:
        for n in range(20):
            assert (await service.put(n)).status_code == 201
    nats_server.start()
    async with start_identity(settings) as service:

        async def outbox_empty() -> bool:
            return bool(await service.pending_events() == 0)

        envelopes = await stream_reader(nats_server.url, settle=outbox_empty)
    _assert_once_each(envelopes, {ins(n) for n in range(20)})
