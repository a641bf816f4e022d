"""The HTTP server the services run on: each response leaves as one write, headers and body
together (the transport tests), responses stay whole, and a streamed response still starts
before its body is complete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from mes_dev.testing import free_port
from mes_platform.serve import CoalescingHttpProtocol, _CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else default


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


async def test_headers_and_body_leave_in_one_write() -> None:
    inner = RecordingTransport()
    transport = _CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b"{}")
    assert inner.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)
    assert inner.writes == [HEAD + b"{}"]  # nothing left to send twice


async def test_headers_alone_leave_at_the_next_turn_of_the_loop() -> None:
    inner = RecordingTransport()
    transport = _CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    transport.write(b"{}")  # a body written later goes as it comes
    assert inner.writes == [HEAD, b"{}"]


async def test_closing_sends_what_was_held_first() -> None:
    inner = RecordingTransport()
    transport = _CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD] and inner.closed
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1234)


def _app(release: asyncio.Event) -> FastAPI:
    app = FastAPI()

    @app.get("/json")
    async def as_json() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first;"
            await release.wait()
            yield b"second"

        return StreamingResponse(chunks(), media_type="text/plain")

    return app


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    release = asyncio.Event()
    port = free_port()
    config = uvicorn.Config(
        _app(release), host="127.0.0.1", port=port, http=CoalescingHttpProtocol, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port, release
    finally:
        release.set()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def _request(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def test_a_response_served_through_the_protocol_is_whole(
    server: tuple[int, asyncio.Event],
) -> None:
    # That it left in one write is the unit tests' to show: a reader cannot tell one write from
    # two that arrived before it read.
    port, _ = server
    reader, writer = await _request(port, "/json")
    first = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    head, _, body = first.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b'{"hello":"world"}'


async def test_a_streamed_response_starts_before_its_body_ends(
    server: tuple[int, asyncio.Event],
) -> None:
    port, release = server
    reader, writer = await _request(port, "/stream")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head
    first = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)  # chunk size line
    assert await reader.readexactly(int(first, 16)) == b"first;"
    release.set()
    rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
    writer.close()
    assert b"second" in rest
