"""A lean HTTP/1.1 transport for httpx, for the calls between the services.

The services call one another over plain HTTP/1.1 on keep-alive connections, and nearly every
answer is a small JSON document. For that, aiohttp's client (under httpx, the former default)
does much that is not needed: a task of its own to write each request body (on Python 3.11,
a turn of the event loop before the request leaves), timers re-armed on every read, and its
own request and response objects beside httpx's. This transport writes each request in one
call on a pooled connection and parses the answer with ``httptools`` (the parser uvicorn
uses): measured with ``make bench``, the gateway spent a sixth to a fifth less CPU per
message sent (README, *Speed*).

What it does:

- ``http://`` only, one pool of idle connections per origin, most recently used first. A
  connection idle for ``keepalive_expiry`` seconds (less than uvicorn's 5 s) is closed rather
  than reused, so a request is never written to a connection the server is closing.
- At most ``max_connections`` requests waiting for their answer (``httpx.PoolTimeout`` past
  the ``pool`` timeout); a streamed answer stops counting once its head is in. The ``connect``
  and ``read`` timeouts apply as in httpx.
- Answers of up to 256 KiB with a ``Content-Length`` are read whole; bigger or chunked ones (an
  attachment being downloaded) are streamed, reading from the socket only as fast as the
  caller consumes (reading pauses past ``_HIGH_WATER`` bytes not yet consumed).
- A ``GET`` whose reused connection turns out to be closed before any byte of the answer is
  sent again once on a new connection; no other method is (it may have been carried out).
- Requests whose body is a stream (uploads), ``HEAD`` and ``https://`` go through
  ``fallback`` (aiohttp's pool).

Errors are httpx's: ``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``PoolTimeout``,
``RemoteProtocolError`` (the server closed or sent something that is not HTTP/1.1),
``ReadError`` (the connection was lost in the middle of a streamed answer), and
``LocalProtocolError`` for a header that would break the request's framing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

__all__ = ["READ_AT_ONCE", "Http1Connection", "Http1Transport", "request_bytes"]

# Answers up to this size with a Content-Length are read whole (every JSON answer); bigger ones
# (an attachment) are streamed. The services' other transport (aiohttp's) does the same.
READ_AT_ONCE = 256 * 1024
# A streamed answer stops reading from the socket past this many bytes not yet consumed.
_HIGH_WATER = 1024 * 1024
_LOW_WATER = 256 * 1024
_RETRIED_METHODS = frozenset({b"GET"})


class _Exchange:
    """What one request is waiting for on a connection."""

    __slots__ = ("body", "buffered", "chunks", "complete", "error", "head", "more")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Resolved with True when the head is in and the body is to be streamed, with False
        # when the whole answer is in (read at once).
        self.head: asyncio.Future[bool] = loop.create_future()
        self.body: list[bytes] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.more = asyncio.Event()
        self.error: BaseException | None = None


class Http1Connection(asyncio.Protocol):
    """One keep-alive connection: one exchange at a time (no pipelining).

    :class:`Http1Transport` pools them; on its own (the bench's load generator), ``open`` one
    and ``request`` again and again."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self.received = False  # any byte of the current answer
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self.streaming = False

    @classmethod
    async def open(
        cls, host: str, port: int, connect_timeout: float | None = None
    ) -> Http1Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, conn = await loop.create_connection(lambda: cls(loop), host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange = self.exchange
        if exchange is not None and not exchange.complete:
            if exchange.head.done():  # in the middle of a streamed body
                self._fail(httpx.ReadError("the connection was lost during the answer"))
            else:
                self._fail(httpx.RemoteProtocolError("the server disconnected without an answer"))

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.headers = []
        self.reason = b""

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        length = None
        for name, value in self.headers:
            if name.lower() == b"content-length":
                length = int(value) if value.strip().isdigit() else None
        self.streaming = length is None or length > READ_AT_ONCE
        exchange = self.exchange
        if self.streaming and exchange is not None and not exchange.head.done():
            exchange.head.set_result(True)

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        if not self.streaming:
            exchange.body.append(body)
            return
        exchange.chunks.append(body)
        exchange.buffered += len(body)
        exchange.more.set()
        if exchange.buffered > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        exchange.complete = True
        exchange.more.set()
        if not exchange.head.done():
            exchange.head.set_result(False)

    # -- use --------------------------------------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        exchange.error = error
        exchange.more.set()
        if not exchange.head.done():
            exchange.head.set_exception(error)

    async def send(self, raw: bytes, read_timeout: float | None) -> tuple[_Exchange, bool]:
        """Send ``raw`` and wait for the answer's head (and for a small answer, all of it);
        whether its body is to be streamed. On any failure the connection is closed: an
        answer may still come on it, which nobody would read."""
        exchange = self.start(raw)
        try:
            async with asyncio.timeout(read_timeout):
                return exchange, await exchange.head
        except TimeoutError:
            self.close()
            raise httpx.ReadTimeout("no answer in time") from None
        except BaseException:
            self.close()
            raise

    async def request(self, raw: bytes, read_timeout: float | None = None) -> tuple[int, bytes]:
        """Send ``raw`` (a whole request, :func:`request_bytes`); the answer's status and
        body, read whole. The connection is then ready for the next request, unless the
        server closed it (``closed``)."""
        exchange, streamed = await self.send(raw, read_timeout)
        if not streamed:
            return self.status, b"".join(exchange.body)
        return self.status, b"".join([chunk async for chunk in self.body(exchange, read_timeout)])

    async def body(self, exchange: _Exchange, read_timeout: float | None) -> AsyncIterator[bytes]:
        """A streamed answer's body, read from the socket as it is consumed."""
        while True:
            while exchange.chunks:
                chunk = exchange.chunks.popleft()
                self.consumed(len(chunk))
                yield chunk
            if exchange.error is not None:
                raise exchange.error
            if exchange.complete:
                return
            exchange.more.clear()
            try:
                async with asyncio.timeout(read_timeout):
                    await exchange.more.wait()
            except TimeoutError:
                raise httpx.ReadTimeout("no more of the answer in time") from None

    def start(self, raw: bytes) -> _Exchange:
        assert self.transport is not None
        self.exchange = _Exchange(self.loop)
        self.received = False
        self.transport.write(raw)
        return self.exchange

    def consumed(self, size: int) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        exchange.buffered -= size
        if exchange.buffered < _LOW_WATER and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _StreamedBody(httpx.AsyncByteStream):
    """A streamed answer's body, read from its connection as the caller consumes it."""

    def __init__(
        self,
        transport: Http1Transport,
        origin: tuple[str, int],
        conn: Http1Connection,
        exchange: _Exchange,
        read_timeout: float | None,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._conn = conn
        self._exchange = exchange
        self._read_timeout = read_timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._conn.body(self._exchange, self._read_timeout):
            yield chunk

    async def aclose(self) -> None:
        if self._done:
            return
        self._done = True
        self._transport._finished(self._origin, self._conn, self._exchange)


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        keepalive_expiry: float = 4.0,
        max_connections: int = 100,
        max_idle_per_origin: int = 64,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.keepalive_expiry = keepalive_expiry
        self.max_idle_per_origin = max_idle_per_origin
        self._fallback = fallback
        self._idle: dict[tuple[str, int], list[Http1Connection]] = {}
        self._slots = asyncio.BoundedSemaphore(max_connections)
        self._closed = False

    # -- the pool ---------------------------------------------------------------------------
    def _idle_connection(self, origin: tuple[str, int]) -> Http1Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_expiry:
                return conn
            conn.close()
        return None

    def _finished(
        self, origin: tuple[str, int], conn: Http1Connection, exchange: _Exchange
    ) -> None:
        """The exchange is over: the connection goes back to the pool if it can carry another
        (the whole answer read, keep-alive), else it is closed."""
        conn.exchange = None
        reusable = (
            exchange.complete
            and exchange.error is None
            and conn.keep_alive
            and not conn.closed
            and not self._closed
        )
        idle = self._idle.setdefault(origin, [])
        if reusable and len(idle) < self.max_idle_per_origin:
            conn.idle_since = time.monotonic()
            idle.append(conn)
        else:
            conn.close()

    # -- httpx ------------------------------------------------------------------------------
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        method = request.method.encode()
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = None
        if body is None or url.scheme != "http" or method == b"HEAD":
            if self._fallback is None:
                raise httpx.UnsupportedProtocol("this request needs the fallback transport")
            return await self._fallback.handle_async_request(request)
        raw = request_bytes(method, url.raw_path, request.headers.raw, body)
        origin = (url.host, url.port or 80)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection free in time") from None
        try:
            return await self._exchange(request, method, raw, origin, timeouts)
        finally:
            # A streamed answer holds its connection until it is closed, but not a slot: a
            # caller that never closes it would otherwise take a slot for good.
            self._slots.release()

    async def _exchange(
        self,
        request: httpx.Request,
        method: bytes,
        raw: bytes,
        origin: tuple[str, int],
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        conn = self._idle_connection(origin)
        reused = conn is not None
        if conn is None:
            conn = await Http1Connection.open(*origin, timeouts.get("connect"))
        read_timeout = timeouts.get("read")
        try:
            exchange, streamed = await conn.send(raw, read_timeout)
        except httpx.RemoteProtocolError:
            if not (reused and not conn.received and method in _RETRIED_METHODS):
                raise
            conn = await Http1Connection.open(*origin, timeouts.get("connect"))
            exchange, streamed = await conn.send(raw, read_timeout)
        stream: httpx.AsyncByteStream
        if streamed:
            stream = _StreamedBody(self, origin, conn, exchange, read_timeout)
        else:
            stream = httpx.ByteStream(b"".join(exchange.body))
            self._finished(origin, conn, exchange)
        return httpx.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=stream,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason.strip()},
        )

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()


def request_bytes(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """One whole HTTP/1.1 request: its line, ``headers`` as given (``Host`` and the body's
    ``Content-Length`` among them) and ``body``."""
    block = b"".join([name + b": " + value + b"\r\n" for name, value in headers])
    # Each header adds one CR and one LF: any other would split the request.
    if block.count(b"\n") != len(headers) or block.count(b"\r") != len(headers):
        raise httpx.LocalProtocolError("a header name or value holds a line break")
    return b"".join((method, b" ", target, b" HTTP/1.1\r\n", block, b"\r\n", body))
