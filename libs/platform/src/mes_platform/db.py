"""One storage code path for two engines: SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from . import sqlite_inline

__all__ = ["Database"]

log = logging.getLogger(__name__)


class Database:
    """A write engine and a read engine over the same database.

    On SQLite, writes go through a single pooled connection that opens ``BEGIN IMMEDIATE``:
    writers queue in-process instead of failing with SQLITE_BUSY when a deferred transaction
    tries to upgrade. Reads use their own connections in autocommit (WAL lets them run beside
    the writer). Statements run on the event loop's thread (:mod:`mes_platform.sqlite_inline`):
    a thread hop per step of a statement cost several times SQLite's own work. On PostgreSQL
    both are one pooled engine.
    """

    def __init__(
        self, url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 10
    ) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            connect = sqlite_inline.connector(database or ":memory:")
            self.engine = create_async_engine(
                self.url, async_creator=connect, pool_size=1, max_overflow=0, pool_timeout=30
            )
            self.read_engine = create_async_engine(
                self.url, async_creator=connect, pool_size=2, max_overflow=2
            )
            self._setup_sqlite(self.engine, sqlite_synchronous, immediate=True)
            self._setup_sqlite(self.read_engine, sqlite_synchronous, immediate=False)
        else:
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.engine

    @staticmethod
    def _setup_sqlite(engine: AsyncEngine, synchronous: str, *, immediate: bool) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN is ours to emit.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            # Short: the statement runs on the event loop (see sqlite_inline), and only another
            # process (an operator's shell) can hold the lock this long.
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        if immediate:

            @event.listens_for(engine.sync_engine, "begin")
            def _on_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on normal exit, rolled back on error."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.connect() as conn:
            yield conn

    async def ping(self) -> bool:
        try:
            async with self.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # readiness reports it; the cause is logged
            log.warning("database ping failed", exc_info=True)
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
