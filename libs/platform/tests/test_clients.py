"""Clients between services: they keep no cookies (an internal answer carries no session), and
a value put in a path is one segment there, so it never changes which route is called."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse

from mes_dev.testing import free_port
from mes_platform.clients import InternalClient, internal_client, path_segment
from mes_platform.context import REQUEST_ID_HEADER, request_id_var
from mes_platform.serve import server_config


async def test_a_cookie_set_by_a_service_is_never_sent_back() -> None:
    seen: list[httpx.Request] = []

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"set-cookie": "session=abc; Path=/"}, json={})

    async with InternalClient(
        base_url="http://svc", transport=httpx.MockTransport(service)
    ) as client:
        await client.get("/internal/a")
        await client.get("/internal/b")
        assert len(client.cookies) == 0
    assert "cookie" not in seen[1].headers


async def test_a_call_carries_the_request_id_of_the_request_being_served() -> None:
    seen: list[httpx.Request] = []

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with InternalClient(
        base_url="http://svc", transport=httpx.MockTransport(service)
    ) as client:
        token = request_id_var.set("served-request-1")
        try:
            await client.get("/internal/a")
            await client.get("/internal/b", headers={REQUEST_ID_HEADER: "given"})
        finally:
            request_id_var.reset(token)
    assert seen[0].headers[REQUEST_ID_HEADER] == "served-request-1"
    assert seen[1].headers[REQUEST_ID_HEADER] == "given"


async def test_the_services_clients_are_internal_clients() -> None:
    async with internal_client("http://svc", "internal-secret") as client:
        assert isinstance(client, InternalClient)
        assert client.headers["x-internal-token"] == "internal-secret"


def _service() -> FastAPI:
    """Routes shaped like the services': a mailbox, its messages, one message, its reading."""
    app = FastAPI()

    @app.get("/internal/mailboxes/{address}")
    async def mailbox(address: str) -> dict[str, str]:
        return {"route": "mailbox", "address": address}

    @app.get("/internal/mailboxes/{address}/messages")
    async def messages(address: str) -> dict[str, str]:
        return {"route": "messages", "address": address}

    @app.get("/internal/mailboxes/{address}/messages/{message_id}")
    async def message(address: str, message_id: str) -> dict[str, str]:
        return {"route": "message", "address": address, "message_id": message_id}

    @app.post("/internal/mailboxes/{address}/messages/{message_id}/read")
    async def read(address: str, message_id: str) -> dict[str, str]:
        return {"route": "read", "address": address, "message_id": message_id}

    @app.get("/internal/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(2)
        return {"route": "slow"}

    @app.get("/internal/blobs/{size}")
    async def blob(size: int, chunked: bool = False) -> Response:
        data = _blob(size)
        if chunked:  # no Content-Length: sent as it comes

            async def parts() -> AsyncIterator[bytes]:
                for start in range(0, size, 65_536):
                    yield data[start : start + 65_536]

            return StreamingResponse(parts(), media_type="application/octet-stream")
        return Response(data, media_type="application/octet-stream")

    return app


def _blob(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


@pytest.fixture
async def service_url() -> AsyncIterator[str]:
    """The routes above behind the server the services run on (uvicorn, httptools)."""
    port = free_port()
    server = uvicorn.Server(server_config(_service(), host="127.0.0.1", port=port))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


# Ids and addresses as a caller may send them in a public path or body.
HOSTILE_VALUES = [
    ".",
    "..",
    "...",
    "%2E",
    "%2E%2E",
    "%2e",
    "a.b",
    "?x=1",
    "#top",
    "a b",
    "%",
    "%25",
    ";x",
    "é",
    "claire.martin@hopital-exemple.mssante.fr",
]


async def test_any_value_in_a_path_reaches_the_route_written_around_it(service_url: str) -> None:
    address = "claire.martin@hopital-exemple.mssante.fr"
    async with internal_client(service_url, "token") as client:
        for value in HOSTILE_VALUES:
            got = await client.get(
                f"/internal/mailboxes/{path_segment(address)}/messages/{path_segment(value)}"
            )
            assert got.status_code == 200, (value, got.text)
            assert got.json() == {"route": "message", "address": address, "message_id": value}
            read = await client.post(
                f"/internal/mailboxes/{path_segment(value)}/messages/{path_segment(value)}/read"
            )
            assert read.json() == {"route": "read", "address": value, "message_id": value}


async def test_escapes_leave_the_client_as_written(service_url: str) -> None:
    async with internal_client(service_url, "token") as client:
        request = client.build_request(
            "GET", f"/internal/mailboxes/{path_segment('..')}", params={"q": "%2E"}
        )
        got = await client.send(request)
    assert request.url.raw_path == b"/internal/mailboxes/%2E%2E?q=%252E"
    assert got.json() == {"route": "mailbox", "address": ".."}
    assert got.request is request


@pytest.mark.parametrize("size", [0, 1_000, 300_000, 3_000_000])
@pytest.mark.parametrize("chunked", [False, True])
async def test_an_answer_arrives_whole_read_or_streamed(
    service_url: str, size: int, chunked: bool
) -> None:
    """A JSON answer and an attachment alike: read by the client, or streamed through as the
    gateway relays a download (small answers are read at once under the stream)."""
    params = {"chunked": "true"} if chunked else {}
    async with internal_client(service_url, "token") as client:
        read = await client.get(f"/internal/blobs/{size}", params=params)
        assert read.status_code == 200
        assert read.content == _blob(size)
        streamed = await client.send(
            client.build_request("GET", f"/internal/blobs/{size}", params=params), stream=True
        )
        try:
            assert b"".join([part async for part in streamed.aiter_raw()]) == _blob(size)
        finally:
            await streamed.aclose()


async def test_an_answer_read_is_freed_without_the_garbage_collector(service_url: str) -> None:
    """Read and closed, an answer is freed as soon as it is dropped: a reference cycle would
    leave it, its request and its headers to the garbage collector, whose collections then
    come every few requests and pause every request in flight."""
    async with internal_client(service_url, "token") as client:
        await client.get("/internal/blobs/10")  # connections and caches made
        gc.disable()
        try:
            gc.collect()
            answer = await client.get("/internal/blobs/1000")
            assert answer.content == _blob(1000)
            gone = weakref.ref(answer)
            request = weakref.ref(answer.request)
            del answer
            assert gone() is None and request() is None
            # Streamed, it is still whole once read.
            streamed = await client.send(
                client.build_request("GET", "/internal/blobs/1000"), stream=True
            )
            assert await streamed.aread() == _blob(1000)
            await streamed.aclose()
        finally:
            gc.enable()


def test_a_path_segment_never_holds_a_separator_or_a_dot_segment() -> None:
    assert path_segment(".") == "%2E"
    assert path_segment("..") == "%2E%2E"
    assert path_segment("a/b?c#d") == "a%2Fb%3Fc%23d"
    assert path_segment("dr.martin@x.mssante.fr") == "dr.martin@x.mssante.fr"
    with pytest.raises(ValueError):
        path_segment("")


async def test_a_service_that_is_down_is_a_connection_error() -> None:
    """The gateway retries a GET that could not connect and answers 503 naming the service:
    it recognises the failure by httpx's exception, whatever the transport below."""
    async with internal_client(f"http://127.0.0.1:{free_port()}", "token") as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/internal/mailboxes/a")


async def test_a_service_that_does_not_answer_in_time_is_a_read_timeout(service_url: str) -> None:
    async with internal_client(service_url, "token", timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/internal/slow")
        # The pool is still usable afterwards.
        assert (await client.get("/internal/mailboxes/a")).json()["route"] == "mailbox"
