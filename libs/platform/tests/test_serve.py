"""The HTTP server the services run on: responses stay whole, a streamed response starts before
its body is complete."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from mes_dev.testing import free_port
from mes_platform.serve import server_config


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
    server = uvicorn.Server(server_config(_app(release), host="127.0.0.1", port=port))
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
