"""SQLite behind SQLAlchemy's asyncio API, run synchronously on the event loop's own thread.

SQLAlchemy's asyncio extension drives an async driver from synchronous code through greenlets,
and aiosqlite runs every step of a statement on a worker thread: a transaction of four
statements cost about 2 ms of CPU that way, against 0.28 ms through SQLAlchemy's synchronous
``pysqlite`` engine. SQLite is a library, not a server: on a WAL database with
``synchronous=NORMAL`` a statement is a few tens of microseconds of work with no network wait.
So on SQLite the services' engines are :class:`InlineAsyncEngine`: the ``AsyncEngine`` and
``AsyncConnection`` interface the code is written against, whose coroutines call SQLAlchemy's
synchronous connection directly. PostgreSQL keeps asyncpg.

Built on public interfaces only: the engine is a real ``AsyncEngine`` (its own ``__init__``)
over the ``pysqlite`` dialect registered under the driver name ``sqlite+mes_inline`` with
``is_async`` set, and a pool from SQLAlchemy's asyncio pool, whose checkout takes a free
connection without awaiting; the connection and transaction classes override the public
methods of ``AsyncConnection`` and ``AsyncTransaction`` and read their public
``sync_connection``/``sync_transaction``. SQLAlchemy is pinned to its minor release for this
module (``libs/platform/pyproject.toml``); ``tests/test_sqlite_inline.py`` fails if one of
these behaviours changes.

What this trades: a statement blocks the event loop for as long as it runs. That is why it is
used only where statements are short and never wait: writes go through one connection per
process (so no writer waits on the lock inside the process), and WAL readers never wait on the
writer. Nothing waits on the thread either:

- the pool: a connection is handed out only once an asyncio semaphore as large as the pool lets
  the task through, so a task waiting for the single write connection waits on the event loop,
  and the pool always has one to give at once;
- the lock of another process (the mailbox's API and delivery processes share one database, an
  operator may open a ``sqlite3`` shell): a write engine (``immediate``) takes the write lock
  with ``BEGIN IMMEDIATE`` without SQLite's busy handler, which sleeps on the thread, and while
  another process holds it, tries again after a pause on the event loop, for up to
  ``lock_wait_s``. Inside the transaction nothing else can be busy: in WAL mode, the lock taken
  at ``BEGIN IMMEDIATE`` is all a writer needs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, exc
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, Connection, CursorResult, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.pool import AsyncAdaptedQueuePool

__all__ = [
    "InlineAsyncConnection",
    "InlineAsyncEngine",
    "InlineSQLiteDialect",
    "create_inline_engine",
]

# Another process's write transaction lasts a few milliseconds (the mailbox's delivery of a
# batch): short pauses let a waiting writer (a patient opening a message) in soon after it
# ends; a failed ``BEGIN IMMEDIATE`` costs about 10 µs.
FIRST_LOCK_PAUSE_S = 0.0005
MAX_LOCK_PAUSE_S = 0.004
DRIVER_NAME = "sqlite+mes_inline"


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """SQLAlchemy's ``pysqlite`` dialect, declared usable by ``AsyncEngine``: its statements
    are run synchronously by :class:`InlineAsyncConnection`, never through a greenlet."""

    is_async = True
    supports_statement_cache = True


registry.register(DRIVER_NAME.replace("+", "."), __name__, "InlineSQLiteDialect")


def _started(conn: AsyncConnection) -> Connection:
    sync = conn.sync_connection
    if sync is None:
        raise exc.ResourceClosedError("this connection is not started or is closed")
    return sync


def _commit_or_roll_back(conn: AsyncConnection, commit: Callable[[], None]) -> None:
    """``commit``; if SQLite refuses the COMMIT (a deferred constraint, a full disk), its
    transaction stays open while SQLAlchemy counts it ended: roll it back on the driver's
    connection, or the next ``BEGIN IMMEDIATE`` on this connection would fail."""
    try:
        commit()
    except BaseException:
        sync = conn.sync_connection
        driver = sync.connection.driver_connection if sync is not None else None
        if isinstance(driver, sqlite3.Connection) and driver.in_transaction:
            driver.rollback()
        raise


class InlineAsyncTransaction(AsyncTransaction):
    """An ``AsyncTransaction`` whose methods run the synchronous transaction directly."""

    __slots__ = ()

    def _sync(self) -> Any:
        if self.sync_transaction is None:
            raise exc.InvalidRequestError("this transaction is not begun")
        return self.sync_transaction

    async def start(self, is_ctxmanager: bool = False) -> AsyncTransaction:
        sync = _started(self.connection)
        if self.nested:
            self.sync_transaction = sync.begin_nested()
        else:
            engine = self.connection.engine
            if isinstance(engine, InlineAsyncEngine) and engine.immediate:
                await engine.lock(sync)
            # pysqlite's dialect emits no BEGIN of its own (the connection is in autocommit
            # mode): this only opens SQLAlchemy's transaction around the lock just taken.
            self.sync_transaction = sync.begin()
        if is_ctxmanager:
            self.sync_transaction.__enter__()
        return self

    async def commit(self) -> None:
        sync = self._sync()
        if self.nested:
            sync.commit()
        else:
            _commit_or_roll_back(self.connection, sync.commit)

    async def rollback(self) -> None:
        self._sync().rollback()

    async def close(self) -> None:
        self._sync().close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        self._sync().__exit__(type_, value, traceback)


class InlineAsyncConnection(AsyncConnection):
    """An ``AsyncConnection`` whose methods run the synchronous connection directly.

    Entered only through :class:`InlineAsyncEngine`, whose semaphore it holds from ``start``
    to ``close`` (or until it is garbage-collected, should a caller forget to close it).
    """

    engine: InlineAsyncEngine

    def __init__(self, async_engine: InlineAsyncEngine) -> None:
        super().__init__(async_engine)
        self.mes_release: Callable[[], Any] | None = None

    async def start(self, is_ctxmanager: bool = False) -> AsyncConnection:
        if self.sync_connection:
            raise exc.InvalidRequestError("connection is already started")
        await self.engine.acquire()
        release = weakref.finalize(self, self.engine.release)
        try:
            # AsyncConnection's own start: checking out of the asyncio pool may need a greenlet
            # (the pool's first connection runs its set-up under an asyncio lock).
            await super().start(is_ctxmanager)
        except BaseException:
            release()
            raise
        self.mes_release = release
        return self

    def begin(self) -> AsyncTransaction:
        _started(self)
        return InlineAsyncTransaction(self)

    def begin_nested(self) -> AsyncTransaction:
        _started(self)
        return InlineAsyncTransaction(self, nested=True)

    async def commit(self) -> None:
        _commit_or_roll_back(self, _started(self).commit)

    async def rollback(self) -> None:
        _started(self).rollback()

    async def close(self) -> None:
        try:
            if self.sync_connection is not None:
                self.sync_connection.close()
        finally:
            release, self.mes_release = self.mes_release, None
            if release is not None:
                release()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        # AsyncConnection closes in a task of its own, so that a cancellation cannot abandon
        # the close partway. That task runs a turn of the event loop later, and holds the
        # connection meanwhile: the single write connection, with every writer queued behind
        # it. This close runs inline, with nothing to abandon.
        await self.close()

    async def execute(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[Any]:
        return _started(self).execute(statement, parameters, execution_options=execution_options)

    async def scalar(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Any:
        return _started(self).scalar(statement, parameters, execution_options=execution_options)

    async def scalars(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Any:
        return _started(self).scalars(statement, parameters, execution_options=execution_options)

    async def exec_driver_sql(
        self,
        statement: str,
        parameters: Any = None,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[Any]:
        return _started(self).exec_driver_sql(statement, parameters, execution_options)

    async def run_sync(self, fn: Callable[..., Any], *arg: Any, **kw: Any) -> Any:
        return fn(_started(self), *arg, **kw)

    async def stream(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError("SQLite results are read at once: use execute()")

    async def stream_scalars(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError("SQLite results are read at once: use scalars()")


class InlineAsyncEngine(AsyncEngine):
    """SQLAlchemy's ``AsyncEngine`` over a synchronous SQLite engine.

    ``connections`` tasks at most hold a connection at once (the pool's size); the others wait
    on the event loop, up to ``timeout`` seconds, then fail as an exhausted pool does.
    """

    def __init__(
        self,
        sync_engine: Engine,
        *,
        connections: int,
        timeout: float,
        immediate: bool = False,
        lock_wait_s: float = 5.0,
    ) -> None:
        super().__init__(sync_engine)
        self.connections = connections
        self.timeout = timeout
        self.gate: asyncio.Semaphore | None = None
        self.immediate = immediate
        self.lock_wait_s = lock_wait_s

    def connect(self) -> AsyncConnection:
        return InlineAsyncConnection(self)

    async def lock(self, sync: Connection) -> None:
        """``BEGIN IMMEDIATE`` on ``sync``'s driver connection (straight to the driver: through
        SQLAlchemy's execution it cost about as much as a statement of the transaction),
        waiting on the event loop while another process holds the write lock."""
        dbapi_connection = sync.connection.driver_connection
        if not isinstance(dbapi_connection, sqlite3.Connection):
            raise exc.InvalidRequestError("an inline SQLite engine runs on sqlite3 connections")
        loop = asyncio.get_running_loop()
        deadline, pause = None, FIRST_LOCK_PAUSE_S
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                busy = getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                now = loop.time()
                deadline = deadline or now + self.lock_wait_s
                if not busy or now >= deadline:
                    raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_LOCK_PAUSE_S)

    def semaphore(self) -> asyncio.Semaphore:
        if self.gate is None:
            self.gate = asyncio.Semaphore(self.connections)
        return self.gate

    async def acquire(self) -> None:
        gate = self.semaphore()
        if not gate.locked():
            await gate.acquire()  # free: taken at once, without a turn of the event loop
            return
        try:
            # asyncio.timeout, not wait_for: in Python 3.11, wait_for runs the acquire in a task
            # of its own, so the connection handed to a waiter would wait a turn of the event
            # loop more before its holder runs.
            async with asyncio.timeout(self.timeout):
                await gate.acquire()
        except TimeoutError:
            raise exc.TimeoutError(
                f"no SQLite connection free after {self.timeout:g} s ({self.connections} in use)"
            ) from None

    def release(self) -> None:
        if self.gate is not None:
            self.gate.release()


def create_inline_engine(
    url: URL,
    *,
    pool_size: int,
    max_overflow: int = 0,
    pool_timeout: float = 30.0,
    busy_timeout_s: float = 5.0,
    immediate: bool = False,
) -> InlineAsyncEngine:
    """The engine of ``url`` (any ``sqlite`` URL: its driver name is not used). With
    ``immediate``, every transaction takes the write lock at its start, waiting for another
    process's on the event loop, ``busy_timeout_s`` at most: give its connections, once set up,
    ``PRAGMA busy_timeout=0``, or SQLite's own busy handler sleeps on the thread first."""
    database = url.database or ":memory:"
    uri = database.startswith("file:")
    if database != ":memory:" and not uri:
        database = str(Path(database))

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            database,
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
            uri=uri,
        )

    sync_engine = create_engine(
        url.set(drivername=DRIVER_NAME),
        creator=connect,
        # The semaphore lets a task check out only when a connection is free (or may be
        # opened): the asyncio pool then hands it over without awaiting.
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )
    return InlineAsyncEngine(
        sync_engine,
        connections=pool_size + max_overflow,
        timeout=pool_timeout,
        immediate=immediate,
        lock_wait_s=busy_timeout_s,
    )
