"""What every service's HTTP surface does: health, metrics, request ids, body limits, and
problem+json for every error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI, Request

from mes_dev.testing import NatsServer
from mes_platform.logs import JsonFormatter
from mes_platform.runtime import ServiceRuntime, create_service_app
from mes_platform.settings import ServiceSettings

TOKEN = "test-internal-token"
LIMIT = 1024


def _app(settings: ServiceSettings, migrations: str) -> FastAPI:
    runtime = ServiceRuntime(settings, migrations=migrations)
    public = APIRouter()

    @public.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @public.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-database-password in a stack trace")

    @public.get("/logged")
    async def logged() -> dict[str, str]:
        logging.getLogger("mes_test").info("handling", extra={"patient_count": 3})
        return {"ok": "yes"}

    internal = APIRouter(prefix="/internal")

    @internal.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return create_service_app(runtime, title="platform test", routers=[public, internal])


@pytest.fixture
async def app(tmp_path: Path, nats_server: NatsServer, migrations: str) -> AsyncIterator[FastAPI]:
    settings = ServiceSettings(
        service_name="platformtest",
        data_dir=tmp_path,
        nats_url=nats_server.url,
        internal_token=TOKEN,
        max_body_bytes=LIMIT,
        log_level="INFO",
    )
    application = _app(settings, migrations)
    async with application.router.lifespan_context(application):
        await application.state.runtime.bus.wait_connected(timeout=5)
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # Unhandled errors must become answers, not exceptions surfacing in the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert str(body["type"]).endswith(code)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_healthz_says_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "platformtest"}


async def test_readyz_follows_nats(client: httpx.AsyncClient, nats_server: NatsServer) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "nats": "ok", "consumers": "ok"}

    nats_server.kill()
    for _ in range(100):
        response = await client.get("/readyz")
        if response.status_code == 503:
            break
        await asyncio.sleep(0.02)
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["checks"]["nats"] == "failing"
    assert response.json()["checks"]["database"] == "ok"

    nats_server.start()
    for _ in range(200):
        response = await client.get("/readyz")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert response.status_code == 200


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "mes_http_requests_total" in response.text
    assert 'route="/healthz"' in response.text
    assert 'service="platformtest"' in response.text


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "req-abc.123:x"})
    assert response.headers["x-request-id"] == "req-abc.123:x"


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert first and second and first != second


@pytest.mark.parametrize(
    "malicious", ["a" * 129, "abc\r\nX-Injected: 1", "abc\nfake log line", "ab c", "é"]
)
async def test_a_malicious_request_id_is_replaced(
    client: httpx.AsyncClient, malicious: str
) -> None:
    # httpx refuses to send CR/LF itself: send the raw header bytes.
    request = client.build_request("GET", "/healthz")
    request.headers.raw.append((b"X-Request-ID", malicious.encode()))  # type: ignore[attr-defined]
    response = await client.send(request)
    echoed = response.headers["x-request-id"]
    assert echoed != malicious
    assert 1 <= len(echoed) <= 128 and echoed.isalnum()


async def test_a_body_under_the_limit_is_served(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"received": LIMIT}


async def test_a_declared_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"x" * (LIMIT + 1))
    body = _problem(response, 413, "payload_too_large")
    assert str(LIMIT) in str(body["detail"])


async def test_a_chunked_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 300

    response = await client.post("/echo", content=chunks())
    _problem(response, 413, "payload_too_large")


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    _problem(await client.get("/no/such/route"), 404, "not_found")


async def test_a_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    _problem(await client.delete("/healthz"), 405, "method_not_allowed")


@pytest.mark.parametrize("headers", [{}, {"X-Internal-Token": "wrong"}, {"X-Internal-Token": ""}])
async def test_internal_endpoints_require_the_internal_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    _problem(
        await client.get("/internal/ping", headers=headers), 401, "internal_credential_required"
    )


async def test_an_internal_path_that_does_not_exist_answers_as_one_that_does(
    client: httpx.AsyncClient,
) -> None:
    """Without the credential nothing under /internal can be probed for what exists."""
    body = _problem(
        await client.get("/internal/nothing-here", headers={"X-Request-ID": "req-probe"}),
        401,
        "internal_credential_required",
    )
    assert body["request_id"] == "req-probe"
    missing = await client.get("/internal/nothing-here", headers={"X-Internal-Token": TOKEN})
    assert missing.status_code == 404
    # Only the prefix itself and what is below it are guarded.
    assert (await client.post("/internalish", content=b"")).status_code == 404


async def test_internal_endpoints_answer_with_the_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/ping", headers={"X-Internal-Token": TOKEN})
    assert response.status_code == 200
    assert response.json() == {"pong": "yes"}


async def test_an_unexpected_error_is_a_500_problem_without_trace(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/boom", headers={"X-Request-ID": "req-boom"})
    body = _problem(response, 500, "internal_error")
    assert body["request_id"] == "req-boom"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


@pytest.fixture
def json_lines() -> Iterator[list[str]]:
    """The service's log lines, as its JSON formatter writes them."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter("platformtest"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


async def test_log_lines_are_json_with_the_request_id(
    client: httpx.AsyncClient, json_lines: list[str]
) -> None:
    await client.get("/logged", headers={"X-Request-ID": "req-log-1"})
    records = [orjson.loads(line) for line in json_lines]
    (handled,) = [r for r in records if r["msg"] == "handling"]
    assert handled["request_id"] == "req-log-1"
    assert handled["service"] == "platformtest"
    assert handled["level"] == "info"
    assert handled["patient_count"] == 3


async def test_an_unexpected_error_is_logged_with_its_request_id(
    client: httpx.AsyncClient, json_lines: list[str]
) -> None:
    await client.get("/boom", headers={"X-Request-ID": "req-boom-log"})
    errors = [orjson.loads(line) for line in json_lines]
    errors = [r for r in errors if r["level"] == "error"]
    assert errors, "the failure is logged"
    assert all(r["request_id"] == "req-boom-log" for r in errors)
    assert any("secret-database-password" in r.get("exc", "") for r in errors)


def test_the_service_logs_json_lines_to_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, migrations: str
) -> None:
    settings = ServiceSettings(service_name="platformtest", data_dir=tmp_path)
    _app(settings, migrations)  # configures logging, as a service does at start
    logging.getLogger("mes_test").warning("something to see")
    err = capsys.readouterr().err.strip().splitlines()
    line = orjson.loads(err[-1])
    assert line["msg"] == "something to see"
    assert line["level"] == "warning"
    assert line["service"] == "platformtest"
