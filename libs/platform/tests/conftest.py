"""Fixtures of the platform tests: a migrated database on both engines, a connected bus.

The test modules are loaded with ``--import-mode=importlib`` and cannot import each other, so
what they share is given as fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from sqlalchemy import Column, Integer, MetaData, String, Table

from mes_contracts.events.identity import PatientCreated, PatientState
from mes_contracts.ins import ins_key
from mes_dev.testing import NatsServer
from mes_platform.bus import EventBus
from mes_platform.db import Database
from mes_platform.migrations import upgrade_to_head

# A service's migrations, given as a directory: the platform tables plus ``effects``.
MIGRATIONS = str(Path(__file__).parent / "service_migrations")

_metadata = MetaData()
EFFECTS = Table(
    "effects",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("note", String(100), nullable=False),
)


@pytest.fixture
def migrations() -> str:
    return MIGRATIONS


@pytest.fixture
def effects() -> Table:
    return EFFECTS


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database, MIGRATIONS)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[EventBus]:
    event_bus = EventBus(nats_server.url, name="platform-test")
    event_bus.start()
    await event_bus.wait_connected(timeout=5)
    try:
        yield event_bus
    finally:
        await event_bus.close()


def make_ins(n: int) -> str:
    nir = f"1850{n:09d}"
    return nir + ins_key(nir)


def patient_created(n: int) -> PatientCreated:
    return PatientCreated(
        ins=make_ins(n),
        state=PatientState.CREATED,
        previous_state=None,
        birth_name="DUPONT",
        first_names="Marie",
        display_name="Marie Dupont",
        email=None,
        app_installed=False,
    )


@pytest.fixture
def event_payload() -> Callable[[int], PatientCreated]:
    """``event_payload(n)``: a valid event, distinct for each ``n``."""
    return patient_created


async def read_stream(bus: EventBus, stream: str, *, wait: float = 1.0) -> list[Msg]:
    """Every message of ``stream``, read back with an ephemeral JetStream consumer."""
    info = await bus.js.stream_info(stream)
    expected = info.state.messages
    sub = await bus.js.pull_subscribe("", stream=stream)
    msgs: list[Msg] = []
    try:
        while len(msgs) < expected:
            msgs.extend(await sub.fetch(expected - len(msgs), timeout=wait))
    finally:
        await sub.unsubscribe()
    return msgs


@pytest.fixture
def stream_reader() -> Callable[..., Awaitable[list[Msg]]]:
    return read_stream
