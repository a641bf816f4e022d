"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

SQLAlchemy's ``sqlite+aiosqlite`` dialect drives each connection through aiosqlite's worker
thread, and every step of a statement (open a cursor, execute, fetch, close) is a round trip
to that thread and back through the event loop: about four per statement. On this project's
admission path that costs several times what SQLite itself does (see README, "Speed"): a
transaction of four statements took 0.35 ms of CPU through SQLAlchemy's synchronous engine
and about 2 ms through aiosqlite.

SQLite is a library, not a server: a statement on a WAL database with ``synchronous=NORMAL``
is a few tens of microseconds of work with no network wait. This module gives SQLAlchemy's
aiosqlite adapter a connection with the same interface whose coroutines complete at once,
running ``sqlite3`` on the calling thread. The rest of SQLAlchemy (dialect, pool, types) is the
aiosqlite dialect's, unchanged.

What this trades: a statement blocks the event loop for as long as it runs. That is why it is
used only where statements are short and never wait on another process: each service owns its
database file, writes go through one connection (so no writer waits on the lock inside the
process), and WAL readers never wait on the writer. ``busy_timeout`` is kept short (a wait on
another process, such as an operator's ``sqlite3`` shell, fails fast instead of stalling every
request).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

__all__ = ["InlineConnection", "InlineCursor", "connector"]


class InlineCursor:
    """aiosqlite's ``Cursor`` API over a ``sqlite3.Cursor``, completing at once."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Self:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Self:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _ImmediateQueue:
    """What SQLAlchemy's adapter puts on aiosqlite's request queue (it does so to set the
    isolation level): run the function now and resolve its future."""

    __slots__ = ()

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(exc)


class InlineConnection:
    """aiosqlite's ``Connection`` API over a ``sqlite3.Connection``, completing at once."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._tx = _ImmediateQueue()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy's adapter checks it before commit/rollback: None once closed.
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._live().isolation_level = value

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor())

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate: close at once (SQLAlchemy calls it when it discards a connection)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connector(database: str, *, busy_timeout_s: float = 5.0) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine('sqlite+aiosqlite://...')``."""
    uri = database.startswith("file:")
    if database and database != ":memory:" and not uri:
        database = str(Path(database))

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(
            database,
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
            uri=uri,
        )
        return InlineConnection(connection)

    return connect
