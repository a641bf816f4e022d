"""SQLite behind SQLAlchemy's asyncio API, run synchronously on the event loop's own thread.

SQLAlchemy's asyncio extension drives an async driver from synchronous code through greenlets:
every call (connect, begin, execute, commit, close) is a greenlet started from the coroutine,
and every step of the driver inside it a switch back to the event loop. For aiosqlite each
step is also a round trip to its worker thread. On this project's admission path that cost
several times what SQLite itself does: a transaction of four statements took about 2 ms of CPU
through aiosqlite, 0.45 ms with the driver's coroutines completing at once, and 0.28 ms through
SQLAlchemy's synchronous engine (README, "Speed").

SQLite is a library, not a server: a statement on a WAL database with ``synchronous=NORMAL``
is a few tens of microseconds of work with no network wait. So on SQLite the services'
engines are :class:`InlineAsyncEngine`: SQLAlchemy's synchronous ``pysqlite`` engine (same
dialect, types and SQL as the asyncio one), behind the :class:`~sqlalchemy.ext.asyncio.
AsyncEngine` and :class:`~sqlalchemy.ext.asyncio.AsyncConnection` interface the code is
written against, whose coroutines call it directly. PostgreSQL keeps asyncpg.

What this trades: a statement blocks the event loop for as long as it runs. That is why it is
used only where statements are short and never wait: writes go through one connection per
process (so no writer waits on the lock inside the process), and WAL readers never wait on the
writer. Nothing waits on the thread either:

- the pool: a connection is handed out only once an asyncio semaphore as large as the pool lets
  the task through, so a task waiting for the single write connection waits on the event loop,
  as with an asyncio pool;
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
from sqlalchemy.engine import URL, CursorResult, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.pool import QueuePool

__all__ = ["InlineAsyncConnection", "InlineAsyncEngine", "create_inline_engine"]

# Another process's write transaction lasts a few milliseconds (the mailbox's delivery of a
# batch): short pauses let a waiting writer (a patient opening a message) in soon after it
# ends; a failed ``BEGIN IMMEDIATE`` costs about 10 µs.
_FIRST_LOCK_PAUSE_S = 0.0005
_MAX_LOCK_PAUSE_S = 0.004


class InlineAsyncTransaction(AsyncTransaction):
    """An ``AsyncTransaction`` whose methods run the synchronous transaction directly."""

    __slots__ = ()

    async def start(self, is_ctxmanager: bool = False) -> AsyncTransaction:
        sync = self.connection._proxied
        if self.nested:
            self.sync_transaction = self._assign_proxied(sync.begin_nested())
        else:
            engine: InlineAsyncEngine = self.connection.engine  # type: ignore[assignment]
            if engine.immediate:
                await engine._lock(sync)
            # pysqlite's dialect emits no BEGIN of its own (the connection is in autocommit
            # mode): this only opens SQLAlchemy's transaction around the lock just taken.
            self.sync_transaction = self._assign_proxied(sync.begin())
        if is_ctxmanager:
            self.sync_transaction.__enter__()
        return self

    async def commit(self) -> None:
        self._proxied.commit()

    async def rollback(self) -> None:
        self._proxied.rollback()

    async def close(self) -> None:
        self._proxied.close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        self._proxied.__exit__(type_, value, traceback)


class InlineAsyncConnection(AsyncConnection):
    """An ``AsyncConnection`` whose methods run the synchronous connection directly.

    Entered only through :class:`InlineAsyncEngine`, whose semaphore it holds from ``start``
    to ``close`` (or until it is garbage-collected, should a caller forget to close it).
    """

    engine: InlineAsyncEngine
    _release: Callable[[], Any] | None = None

    async def start(self, is_ctxmanager: bool = False) -> AsyncConnection:
        if self.sync_connection:
            raise exc.InvalidRequestError("connection is already started")
        await self.engine._acquire()
        release = weakref.finalize(self, self.engine._gate_release)
        try:
            self.sync_connection = self._assign_proxied(self.sync_engine.connect())
        except BaseException:
            release()
            raise
        self._release = release
        return self

    def begin(self) -> AsyncTransaction:
        self._proxied  # noqa: B018 - raises if not started, as AsyncConnection.begin does
        return InlineAsyncTransaction(self)

    def begin_nested(self) -> AsyncTransaction:
        self._proxied  # noqa: B018
        return InlineAsyncTransaction(self, nested=True)

    async def commit(self) -> None:
        self._proxied.commit()

    async def rollback(self) -> None:
        self._proxied.rollback()

    async def close(self) -> None:
        try:
            self._proxied.close()
        finally:
            release, self._release = self._release, None
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
        return self._proxied.execute(statement, parameters, execution_options=execution_options)

    async def scalar(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Any:
        return self._proxied.scalar(statement, parameters, execution_options=execution_options)

    async def scalars(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Any:
        return self._proxied.scalars(statement, parameters, execution_options=execution_options)

    async def exec_driver_sql(
        self,
        statement: str,
        parameters: Any = None,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[Any]:
        return self._proxied.exec_driver_sql(statement, parameters, execution_options)

    async def run_sync(self, fn: Callable[..., Any], *arg: Any, **kw: Any) -> Any:
        return fn(self._proxied, *arg, **kw)

    async def stream(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError("SQLite results are read at once: use execute()")

    async def stream_scalars(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError("SQLite results are read at once: use scalars()")


class InlineAsyncEngine(AsyncEngine):
    """SQLAlchemy's ``AsyncEngine`` interface over a synchronous SQLite engine.

    ``connections`` tasks at most hold a connection at once (the pool's size); the others wait
    on the event loop, up to ``timeout`` seconds, then fail as an exhausted pool does.
    """

    _connection_cls = InlineAsyncConnection

    def __init__(
        self,
        sync_engine: Engine,
        *,
        connections: int,
        timeout: float,
        immediate: bool = False,
        lock_wait_s: float = 5.0,
    ) -> None:
        # AsyncEngine.__init__ refuses a synchronous driver: the point here is to use one.
        self.sync_engine = self._assign_proxied(sync_engine)
        self._connections = connections
        self._timeout = timeout
        self._gate: asyncio.Semaphore | None = None
        self.immediate = immediate
        self.lock_wait_s = lock_wait_s

    async def _lock(self, sync: Any) -> None:
        """``BEGIN IMMEDIATE`` on ``sync``'s driver connection (straight to the driver: through
        SQLAlchemy's execution it cost about as much as a statement of the transaction),
        waiting on the event loop while another process holds the write lock."""
        dbapi_connection = sync.connection.dbapi_connection
        loop = asyncio.get_running_loop()
        deadline, pause = None, _FIRST_LOCK_PAUSE_S
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
            pause = min(pause * 2, _MAX_LOCK_PAUSE_S)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self._connections)
        return self._gate

    async def _acquire(self) -> None:
        gate = self._semaphore()
        if not gate.locked():
            await gate.acquire()  # free: taken at once, without a turn of the event loop
            return
        try:
            # asyncio.timeout, not wait_for: in Python 3.11, wait_for runs the acquire in a task
            # of its own, so the connection handed to a waiter would wait a turn of the event
            # loop more before its holder runs.
            async with asyncio.timeout(self._timeout):
                await gate.acquire()
        except TimeoutError:
            raise exc.TimeoutError(
                f"no SQLite connection free after {self._timeout:g} s ({self._connections} in use)"
            ) from None

    def _gate_release(self) -> None:
        if self._gate is not None:
            self._gate.release()

    @classmethod
    def _regenerate_proxy_for_target(
        cls, target: Engine, **additional_kw: Any
    ) -> InlineAsyncEngine:  # pragma: no cover - every engine is built by create_inline_engine
        raise exc.InvalidRequestError("an inline SQLite engine is built by create_inline_engine")


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
        url.set(drivername="sqlite+pysqlite"),
        creator=connect,
        poolclass=QueuePool,
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
