"""Fixtures of the identity tests: the service in-process, on a real NATS and database.

The test modules are loaded with ``--import-mode=importlib`` and cannot import each other, so
what they share is given as fixtures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mes_contracts import EventEnvelope
from mes_contracts.ins import ins_key
from mes_dev.testing import NatsServer
from mes_identity.main import create_app
from mes_identity.settings import IdentitySettings
from mes_platform.tables import outbox

STREAM = "MES_IDENTITY"


def make_ins(n: int) -> str:
    nir = f"2790{n:09d}"
    return nir + ins_key(nir)


def patient(state: str = "created", **fields: Any) -> dict[str, Any]:
    return {"state": state, "birth_name": "DUPONT", "first_names": "Marie Louise", **fields}


@dataclass
class Identity:
    """The running service: its app, a client with the internal credential, its settings."""

    app: FastAPI
    http: httpx.AsyncClient
    settings: IdentitySettings

    async def put(self, n: int, state: str = "created", **fields: Any) -> httpx.Response:
        return await self.http.put(
            f"/internal/patients/{make_ins(n)}", json=patient(state, **fields)
        )

    async def resolve(self, address: str) -> dict[str, Any]:
        response = await self.http.get(f"/internal/resolutions/{address}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def pending_events(self) -> int:
        async with self.app.state.runtime.db.reading() as conn:
            return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())


def client_for(app: FastAPI, settings: IdentitySettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://t",
        headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
    )


@asynccontextmanager
async def running(settings: IdentitySettings) -> AsyncIterator[Identity]:
    """The service started as its server would (migrations, NATS, relay) and stopped after."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_for(app, settings) as http:
        yield Identity(app, http, settings)


@pytest.fixture
def settings(tmp_path: Path, nats_server: NatsServer) -> IdentitySettings:
    return IdentitySettings(data_dir=tmp_path, nats_url=nats_server.url)


@pytest.fixture
async def identity(settings: IdentitySettings) -> AsyncIterator[Identity]:
    async with running(settings) as service:
        await service.app.state.runtime.bus.wait_connected(timeout=5)
        yield service


@pytest.fixture
def start_identity() -> Callable[[IdentitySettings], Any]:
    """``async with start_identity(settings) as service``: one more start of the service."""
    return running


async def read_stream(
    url: str, *, settle: Callable[[], Awaitable[bool]] | None = None, patience: float = 15.0
) -> list[EventEnvelope]:
    """Every event in the identity stream, read back with an ephemeral JetStream consumer,
    once ``settle()`` says that nothing more is on its way."""
    deadline = time.monotonic() + patience
    if settle is not None:
        while not await settle():
            if time.monotonic() > deadline:
                raise AssertionError("events still pending")
            await asyncio.sleep(0.02)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            expected = (await js.stream_info(STREAM)).state.messages
        except nats.js.errors.NotFoundError:
            return []
        sub = await js.pull_subscribe("", stream=STREAM)
        envelopes: list[EventEnvelope] = []
        while len(envelopes) < expected:
            for msg in await sub.fetch(expected - len(envelopes), timeout=2):
                envelope = EventEnvelope.from_json_bytes(msg.data)
                assert msg.headers and msg.headers["Nats-Msg-Id"] == envelope.id
                envelopes.append(envelope)
        await sub.unsubscribe()
        return envelopes
    finally:
        await nc.close()


@pytest.fixture
def events(identity: Identity) -> Callable[[], Awaitable[list[EventEnvelope]]]:
    """The events the service published so far, once its outbox is empty."""

    async def published() -> list[EventEnvelope]:
        async def outbox_empty() -> bool:
            return await identity.pending_events() == 0

        return await read_stream(identity.settings.nats_url, settle=outbox_empty)

    return published


@pytest.fixture
def stream_reader() -> Callable[..., Awaitable[list[EventEnvelope]]]:
    return read_stream


@pytest.fixture
def ins() -> Callable[[int], str]:
    """``ins(n)``: a valid matricule INS, distinct for each ``n``."""
    return make_ins


@pytest.fixture
def body() -> Callable[..., dict[str, Any]]:
    """``body(state, **fields)``: a PUT /internal/patients body."""
    return patient
