"""What a feature route gets from the services layer: a service's refusal reaches the caller
unchanged, a failing service becomes 503, and Idempotency-Key travels to the deciding service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from mes_gateway.deps import IdempotencyKey, ServicesDep, idempotency_headers
from mes_gateway.errors import ServiceUnavailable
from mes_gateway.main import create_app
from mes_gateway.services import ServiceClients

seen: list[httpx.Request] = []
router = APIRouter()


@router.post("/v1/test/things", status_code=201)
async def create_thing(key: IdempotencyKey, services: ServicesDep) -> object:
    answer = await services.send(
        "conversation", "POST", "/internal/things", json={"n": 1}, headers=idempotency_headers(key)
    )
    return answer.json()


@router.get("/v1/test/{service}/{status}")
async def read_thing(service: str, status: int, services: ServicesDep) -> object:
    return (await services.get(service, f"/internal/answer/{status}")).json()


def conversation(request: httpx.Request) -> httpx.Response:
    seen.append(request)
    return httpx.Response(201, json={"id": "thing-1"})


def mailbox(request: httpx.Request) -> httpx.Response:
    status = int(request.url.path.rsplit("/", 1)[1])
    if status == 409:
        return httpx.Response(
            409,
            headers={"content-type": "application/problem+json"},
            json={
                "type": "https://mes-messagerie.example/problems/quota_exceeded",
                "title": "Mailbox full",
                "status": 409,
                "code": "quota_exceeded",
                "detail": "The mailbox is full.",
                "request_id": "upstream",
                "used_bytes": 42,
            },
        )
    if status == 404:
        return httpx.Response(404, text="no such thing")
    if status == 503:
        return httpx.Response(
            503,
            headers={"content-type": "application/problem+json"},
            json={
                "title": "A service this decision depends on is unavailable",
                "status": 503,
                "code": "dependency_unavailable",
                "detail": "The identity service cannot be reached.",
                "dependency": "identity",
            },
        )
    return httpx.Response(status, text="Traceback (most recent call last): ...")


@pytest.fixture
async def client(settings):
    seen.clear()
    app = create_app(
        settings,
        extra_routers=[router],
        transports={
            "conversation": httpx.MockTransport(conversation),
            "mailbox": httpx.MockTransport(mailbox),
        },
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        yield client


async def test_idempotency_key_and_request_id_reach_the_service(client, settings):
    response = await client.post(
        "/v1/test/things",
        headers={"Idempotency-Key": "3f0c1e7a-5b8e-4c1d", "X-Request-ID": "trace-7"},
    )
    assert response.status_code == 201 and response.json() == {"id": "thing-1"}
    forwarded = seen[0].headers
    assert forwarded["idempotency-key"] == "3f0c1e7a-5b8e-4c1d"
    assert forwarded["x-request-id"] == "trace-7"
    assert forwarded["x-internal-token"] == settings.internal_token.get_secret_value()

    await client.post("/v1/test/things")
    assert "idempotency-key" not in seen[1].headers


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\there", "clé"])
async def test_bad_idempotency_key_is_refused(client, key):
    response = await client.post("/v1/test/things", headers=[(b"Idempotency-Key", key.encode())])
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_idempotency_key"
    assert seen == []


async def test_service_refusal_is_passed_through(client):
    response = await client.get("/v1/test/mailbox/409", headers={"X-Request-ID": "trace-9"})
    problem = response.json()
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "quota_exceeded" and problem["detail"] == "The mailbox is full."
    assert problem["used_bytes"] == 42
    assert problem["request_id"] == "trace-9"  # the caller's id, not the service's

    plain = await client.get("/v1/test/mailbox/404")
    assert plain.status_code == 404 and plain.json()["code"] == "upstream_refused"


@pytest.mark.parametrize(
    ("service", "status"),
    [("mailbox", 500), ("mailbox", 502), ("mailbox", 401), ("directory", 200)],
)
async def test_failing_or_unreachable_service_is_503_naming_it(client, service, status):
    response = await client.get(f"/v1/test/{service}/{status}")
    problem = response.json()
    assert response.status_code == 503
    assert (problem["code"], problem["service"]) == ("service_unavailable", service)
    assert "Traceback" not in response.text
    # A client's HTTP library can wait and retry by itself.
    assert response.headers["retry-after"] == "2"


async def test_a_service_waiting_for_another_names_the_one_unavailable(client):
    response = await client.get("/v1/test/mailbox/503")
    problem = response.json()
    assert response.status_code == 503
    assert (problem["code"], problem["service"]) == ("service_unavailable", "identity")
    assert problem["detail"] == "The identity service is unavailable; retry later."


@asynccontextmanager
async def _gateway_over(
    settings, mailbox_handler
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The gateway with the test routes, its mailbox answered by ``mailbox_handler``."""
    app = create_app(
        settings,
        extra_routers=[router],
        transports={"mailbox": httpx.MockTransport(mailbox_handler)},
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        yield app, client


async def test_a_get_whose_connection_failed_is_tried_again(settings):
    attempts: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(str(request.url))
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": True})

    async with _gateway_over(settings, flaky) as (_, client):
        response = await client.get("/v1/test/mailbox/200")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert len(attempts) == 3 and len(set(attempts)) == 1
    assert attempts[0].endswith("/internal/answer/200")


async def test_a_get_that_never_connects_is_503_after_three_attempts(settings):
    attempts: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("refused", request=request)

    async with _gateway_over(settings, down) as (_, client):
        response = await client.get("/v1/test/mailbox/200")
    assert response.status_code == 503 and response.json()["service"] == "mailbox"
    assert len(attempts) == 3


async def test_paths_are_called_on_the_service_base_url_whatever_was_called_before(settings):
    """The parsed URLs the clients keep are bounded and never mix services or paths."""
    calls: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"path": request.url.path})

    async with _gateway_over(settings, echo) as (app, client):
        for status in [*range(200, 600), 200, 201]:
            response = await client.get(f"/v1/test/mailbox/{status}")
            if status < 300:
                assert response.json() == {"path": f"/internal/answer/{status}"}
    assert calls[-2:] == ["/internal/answer/200", "/internal/answer/201"]
    assert len(app.state.services._urls) <= 256


async def test_an_idempotent_call_whose_connection_failed_is_tried_again_and_no_other(settings):
    attempts: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) % 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"read_at": "2026-11-26T10:00:00Z"})

    services = ServiceClients(settings, transports={"mailbox": httpx.MockTransport(flaky)})
    await services.open()
    try:
        opened = await services.send("mailbox", "POST", "/internal/x/open", idempotent=True)
        assert opened.status_code == 200 and attempts == ["POST"] * 3
        # A send that is not idempotent fails at once: its caller retries with its key.
        with pytest.raises(ServiceUnavailable):
            await services.send("mailbox", "POST", "/internal/messages")
        assert len(attempts) == 4
    finally:
        await services.aclose()


async def test_a_read_the_reads_process_cannot_take_goes_to_the_conversation_service(settings):
    calls: list[str] = []

    def reads(request: httpx.Request) -> httpx.Response:
        calls.append("reads")
        raise httpx.ConnectError("refused", request=request)

    def conversation(request: httpx.Request) -> httpx.Response:
        calls.append("conversation")
        return httpx.Response(200, json={"items": []})

    services = ServiceClients(
        settings.model_copy(update={"conversation_reads_url": "http://127.0.0.1:9"}),
        transports={
            "conversation": httpx.MockTransport(conversation),
            "conversation_reads": httpx.MockTransport(reads),
        },
    )
    await services.open()
    try:
        answer = await services.get("conversation_reads", "/internal/patients/x/conversations")
        assert answer.json() == {"items": []} and calls == ["reads", "conversation"]
    finally:
        await services.aclose()
