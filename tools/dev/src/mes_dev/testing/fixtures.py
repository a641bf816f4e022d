"""pytest fixtures, loaded by the repository's root conftest.

``database_url`` runs a test on SQLite and on PostgreSQL. The PostgreSQL leg skips when no
server answers, unless ``MES_REQUIRE_POSTGRES=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .nats_server import NatsServer
from .postgres import PostgresDatabase


def pytest_configure(config: pytest.Config) -> None:
    # The tests' SMTP servers (aiosmtpd) log each connection at INFO from their own thread,
    # past pytest's capture, through the handler an in-process service installed.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    database = PostgresDatabase()
    try:
        await database.create()
    except Exception as exc:
        if os.environ.get("MES_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(f"PostgreSQL required but unreachable: {exc!r}") from exc
        pytest.skip(f"PostgreSQL unreachable: {exc!r}")
    try:
        yield database.url
    finally:
        await database.drop()
