"""One storage code path for two engines: SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from . import sqlite_inline

__all__ = ["Database"]

log = logging.getLogger(__name__)

# Pages the WAL may hold before a commit checkpoints it (SQLite's default). With the background
# checkpoints, that commit finds the pages already copied and only rewinds the WAL (measured:
# one commit in 3,000 over 3 ms, against one in 750 at 5-40 ms without them).
_WAL_AUTOCHECKPOINT_PAGES = 1000


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
        self,
        url: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        pool_size: int = 10,
        checkpoint_seconds: float = 0.2,
        postgres_read_settings: Mapping[str, str] | None = None,
    ) -> None:
        """``postgres_read_settings``: run-time parameters of the PostgreSQL sessions that
        only read (asyncpg's ``server_settings``), e.g. ``{"plan_cache_mode":
        "force_generic_plan"}``; reads then have a pool of their own. Ignored on SQLite."""
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.checkpoint_seconds = checkpoint_seconds
        self._checkpointer: asyncio.Task[None] | None = None
        self._checkpoint_thread: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = sqlite_inline.create_inline_engine(
                self.url, pool_size=1, max_overflow=0, pool_timeout=30, immediate=True
            )
            self.read_engine: AsyncEngine = sqlite_inline.create_inline_engine(
                self.url, pool_size=2, max_overflow=2
            )
            self._setup_sqlite(self.engine, sqlite_synchronous)
            self._setup_sqlite(self.read_engine, sqlite_synchronous)
        else:
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.engine
            if postgres_read_settings:
                self.read_engine = create_async_engine(
                    self.url,
                    pool_size=pool_size,
                    max_overflow=pool_size,
                    pool_pre_ping=True,
                    connect_args={"server_settings": dict(postgres_read_settings)},
                )

    @staticmethod
    def _setup_sqlite(engine: AsyncEngine, synchronous: str) -> None:
        # A write engine waits for another process's lock itself (sqlite_inline), on the event
        # loop: SQLite's busy handler, which sleeps on the thread, must not wait first.
        busy_timeout_ms = 0 if getattr(engine, "immediate", False) else 5000

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN is ours to emit.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # Setting up may wait, once per connection: at start-up another process of the
            # service may hold the database (migrations).
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA wal_autocheckpoint={_WAL_AUTOCHECKPOINT_PAGES}")
            # Then the writer waits for another process's lock on the event loop, not in
            # SQLite's busy handler (sqlite_inline); a reader of a WAL database practically
            # never waits.
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.close()

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

    # -- SQLite: WAL checkpoints off the event loop -------------------------------------------

    def start_checkpoints(self) -> None:
        """On a SQLite file, copy the WAL into the database every ``checkpoint_seconds`` from a
        thread of its own. A checkpoint writes and syncs the database file: done by a commit,
        as SQLite does by default, it would stall the event loop that runs the commit (up to
        tens of milliseconds, measured under load) for every request in flight."""
        database = self.url.database or ""
        if not self.is_sqlite or database in ("", ":memory:") or self.checkpoint_seconds <= 0:
            return
        if self._checkpointer is not None and not self._checkpointer.done():
            return
        self._checkpoint_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._checkpointer = asyncio.create_task(self._checkpoints(database), name="checkpoints")

    async def _checkpoints(self, database: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.checkpoint_seconds)
            try:
                await loop.run_in_executor(self._checkpoint_thread, self._checkpoint, database)
            except Exception:  # the next round tries again; commits checkpoint past the fallback
                log.warning("WAL checkpoint failed", exc_info=True)

    def _checkpoint(self, database: str) -> None:
        # Runs in the checkpoint thread only, on its own connection. PASSIVE: never waits for
        # a reader or the writer, copies what it can.
        if self._checkpoint_conn is None:
            self._checkpoint_conn = sqlite3.connect(
                database, timeout=1.0, isolation_level=None, check_same_thread=False
            )
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def _stop_checkpoints(self) -> None:
        task, self._checkpointer = self._checkpointer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        executor, self._checkpoint_thread = self._checkpoint_thread, None
        if executor is not None:
            conn, self._checkpoint_conn = self._checkpoint_conn, None
            if conn is not None:
                executor.submit(conn.close)
            executor.shutdown(wait=True)

    async def dispose(self) -> None:
        await self._stop_checkpoints()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
