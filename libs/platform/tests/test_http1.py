"""The HTTP/1.1 transport between the services, against servers that misbehave in the ways a
real one can: one that closes a kept-alive connection as a request arrives on it, one that never
answers, one that answers a huge body slowly read; and a header that would split a request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from mes_platform.clients import InternalClient
from mes_platform.http1 import Http1Transport


class _RawServer:
    """A loopback HTTP/1.1 server whose behaviour per request is given by ``answer``:
    ``answer(n, request_bytes)`` returns the bytes to send back, or None to close the
    connection without answering. Counts connections."""

    def __init__(self, answer: Callable[[int, bytes], bytes | None]) -> None:
        self.answer = answer
        self.connections = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests += 1
                reply = self.answer(self.requests, head + body)
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)


def _ok(body: bytes = b'{"ok":true}', *, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + connection
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


@contextlib.asynccontextmanager
async def _client(url: str, **kwargs: object) -> AsyncIterator[httpx.AsyncClient]:
    async with InternalClient(base_url=url, transport=Http1Transport(**kwargs)) as client:  # type: ignore[arg-type]
        yield client


async def test_one_connection_carries_request_after_request() -> None:
    server = _RawServer(lambda n, _: _ok(b'{"n":%d}' % n))
    async with server as url, _client(url) as client:
        for n in range(1, 6):
            answer = await client.post("/internal/x", json={"n": n})
            assert answer.status_code == 200 and answer.json() == {"n": n}
            assert answer.extensions["reason_phrase"] == b"OK"
    assert server.connections == 1 and server.requests == 5


async def test_concurrent_requests_each_get_their_own_answer() -> None:
    def answer(_: int, raw: bytes) -> bytes:
        return _ok(raw.split(b"\r\n\r\n", 1)[1])

    server = _RawServer(answer)
    async with server as url, _client(url) as client:
        answers = await asyncio.gather(
            *(client.post("/internal/x", json={"i": i}) for i in range(40))
        )
    assert [a.json() for a in answers] == [{"i": i} for i in range(40)]
    assert server.connections <= 40


async def test_a_connection_the_server_closes_is_not_used_again() -> None:
    server = _RawServer(lambda n, _: _ok(close=True))
    async with server as url, _client(url) as client:
        for _ in range(3):
            assert (await client.get("/internal/x")).status_code == 200
    assert server.connections == 3


async def test_an_idle_connection_past_its_expiry_is_replaced() -> None:
    server = _RawServer(lambda n, _: _ok())
    async with server as url, _client(url, keepalive_expiry=0.05) as client:
        await client.get("/internal/x")
        await asyncio.sleep(0.1)
        await client.get("/internal/x")
    assert server.connections == 2


async def test_a_get_on_a_connection_closed_under_it_is_sent_again_once() -> None:
    # The server answers the first request, then closes the kept-alive connection when the
    # second arrives on it, without answering: the GET goes again on a new connection.
    server = _RawServer(lambda n, _: _ok(b'{"n":%d}' % n) if n != 2 else None)
    async with server as url, _client(url) as client:
        assert (await client.get("/internal/x")).json() == {"n": 1}
        assert (await client.get("/internal/x")).json() == {"n": 3}
    assert server.connections == 2


async def test_a_post_on_a_connection_closed_under_it_is_not_sent_again() -> None:
    # It may have been carried out: the caller learns it failed, and decides.
    server = _RawServer(lambda n, _: _ok() if n != 2 else None)
    async with server as url, _client(url) as client:
        await client.post("/internal/x", json={})
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/internal/x", json={})
        assert (await client.post("/internal/x", json={})).status_code == 200
    assert server.requests == 3


async def test_no_answer_in_time_is_a_read_timeout_and_the_connection_is_dropped() -> None:
    def answer(n: int, _: bytes) -> bytes | None:
        return _ok() if n != 1 else b"HTTP/1.1 200 OK\r\n"  # a head that never ends

    server = _RawServer(answer)
    async with server as url, _client(url) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/internal/x", timeout=httpx.Timeout(5.0, read=0.1))
        assert (await client.get("/internal/x")).status_code == 200
    assert server.connections == 2


async def test_nothing_listening_is_a_connect_error() -> None:
    async with _RawServer(lambda n, _: _ok()) as url:
        pass  # closed: the port is free again
    async with _client(url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/internal/x")


async def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    server = _RawServer(lambda n, _: b"SSH-2.0-OpenSSH\r\n\r\n")
    async with server as url, _client(url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/internal/x")


async def test_a_header_with_a_line_break_never_leaves() -> None:
    server = _RawServer(lambda n, _: _ok())
    async with server as url, _client(url) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get("/internal/x", headers={"X-Request-ID": "a\r\nX-Internal-Token: t"})
    assert server.requests == 0


async def test_a_big_answer_is_streamed_and_the_connection_kept_for_the_next() -> None:
    big = bytes(i % 251 for i in range(3_000_000))
    server = _RawServer(lambda n, _: _ok(big) if n == 1 else _ok())
    async with server as url, _client(url) as client:
        async with client.stream("GET", "/internal/blob") as answer:
            got = b"".join([chunk async for chunk in answer.aiter_raw()])
        assert got == big
        assert (await client.get("/internal/x")).json() == {"ok": True}
    assert server.connections == 1


async def test_a_streamed_answer_closed_early_drops_its_connection() -> None:
    big = bytes(3_000_000)
    server = _RawServer(lambda n, _: _ok(big) if n == 1 else _ok())
    async with server as url, _client(url) as client:
        async with client.stream("GET", "/internal/blob") as answer:
            async for _ in answer.aiter_raw():
                break
        assert (await client.get("/internal/x")).json() == {"ok": True}
    assert server.connections == 2


async def test_a_streamed_upload_goes_through_the_fallback() -> None:
    seen: list[bytes] = []

    def fallback(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(201, json={"via": "fallback"})

    async def parts() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    transport = Http1Transport(fallback=httpx.MockTransport(fallback))
    async with InternalClient(base_url="http://svc", transport=transport) as client:
        answer = await client.post("/internal/attachments", content=parts())
    assert answer.status_code == 201 and seen == [b"/internal/attachments"]


def test_the_same_on_uvloop_the_services_event_loop() -> None:
    import uvloop

    async def exchange() -> None:
        server = _RawServer(lambda n, _: _ok(b'{"n":%d}' % n) if n != 2 else None)
        async with server as url, _client(url) as client:
            assert (await client.get("/internal/x")).json() == {"n": 1}
            assert (await client.get("/internal/x")).json() == {"n": 3}  # sent again
            posted = await client.post("/internal/x", json={"n": 4})
            assert posted.json() == {"n": 4}
        assert server.connections == 2

    uvloop.run(exchange())
