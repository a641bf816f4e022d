"""Health of the whole system, request ids, body limits, and the exported OpenAPI document."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from mes_dev.testing.nats_server import free_port
from mes_gateway import openapi
from mes_gateway.main import create_app
from mes_gateway.settings import GatewaySettings

_SECRET = "0123456789abcdef0123456789abcdef"


async def test_health_reports_identity_ready_and_the_others_unreachable(stack, identity_app):
    await identity_app.state.runtime.bus.wait_connected(10)
    response = await stack.get("/health")
    report = response.json()
    assert response.status_code == 503
    assert report["status"] == "degraded"
    assert report["services"]["identity"] == {
        "status": "ready",
        "checks": {"database": "ok", "nats": "ok", "consumers": "ok"},
    }
    for name in ("mailbox", "conversation", "directory", "notifier"):
        assert report["services"][name]["status"] == "unreachable"


async def test_gateway_own_probes(gateway):
    assert (await gateway.get("/healthz")).json()["status"] == "ok"
    assert (await gateway.get("/readyz")).status_code == 200
    metrics = await gateway.get("/metrics")
    assert 'mes_http_requests_total{method="GET",route="/healthz",service="gateway"' in metrics.text


async def test_request_id_is_echoed_in_header_and_problem(gateway):
    response = await gateway.get("/v1/me", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-42"
    assert response.json()["request_id"] == "trace-42"
    generated = await gateway.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_the_docs_pages_load_nothing_from_outside(gateway):
    """Swagger UI and ReDoc work on a machine without internet: every file they load is the
    gateway's own."""
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = (await gateway.get(page)).text
        assert "https://" not in html and "http://" not in html, page
        urls = re.findall(r'(?:src|href)="?([^"\s>]+)', html) + re.findall(r"url: '([^']+)'", html)
        assert f"/docs/assets/{asset}" in urls, (page, urls)
        for url in urls:
            if url.startswith("/"):
                fetched = await gateway.get(url)
                assert fetched.status_code == 200 and fetched.content, url
    bundle = (await gateway.get("/docs/assets/swagger-ui-bundle.js")).text
    assert "SwaggerUIBundle" in bundle
    assert (await gateway.get("/docs/oauth2-redirect")).status_code == 200


async def test_upload_paths_accept_larger_bodies(gateway):
    body = b"x" * (2 * 1024 * 1024)
    elsewhere = await gateway.post("/v1/anything", content=body)
    assert elsewhere.status_code == 413
    upload = await gateway.post("/v1/attachments", content=body)
    # Over the default limit, under the upload one: not refused for size, but for the
    # missing token.
    assert upload.status_code == 401
    assert upload.json()["code"] == "unauthenticated"


async def test_dev_token_route_does_not_exist_in_production():
    settings = GatewaySettings(
        environment="production",
        jwks_url="http://127.0.0.1:9/jwks",
        internal_token="a-real-secret-of-32-characters-!",
        jwt_dev_signing_key="",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        response = await client.post("/v1/dev/tokens", json={"role": "ops"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "/v1/dev/tokens" not in app.openapi()["paths"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # no jwks_url
        {"jwks_url": "https://idp.example/jwks"},  # placeholder internal token
        {"jwks_url": "https://idp.example/jwks", "internal_token": _SECRET},  # placeholder dev key
        {
            "jwks_url": "https://idp.example/jwks",
            "internal_token": _SECRET,
            "jwt_dev_signing_key": "",
            "jwt_algorithms": ["HS256"],
        },
        {  # an internal token too short to be a secret
            "jwks_url": "https://idp.example/jwks",
            "internal_token": _SECRET[:31],
            "jwt_dev_signing_key": "",
        },
    ],
)
def test_production_refuses_placeholders(overrides):
    with pytest.raises(ValueError):
        GatewaySettings(environment="production", **overrides)


def test_production_accepts_an_internal_token_of_32_characters():
    settings = GatewaySettings(
        environment="production",
        jwks_url="https://idp.example/jwks",
        internal_token=_SECRET,
        jwt_dev_signing_key="",
    )
    assert len(settings.internal_token.get_secret_value()) == 32


async def _scrape(port: int) -> httpx.Response:
    async with httpx.AsyncClient() as scraper:
        return await scraper.get(f"http://127.0.0.1:{port}/metrics")


@pytest.mark.parametrize("environment", ["production", "development"])
async def test_metrics_are_served_on_their_own_port_and_not_on_the_public_one(environment):
    port = free_port()
    settings = GatewaySettings(
        environment=environment,
        jwks_url="http://127.0.0.1:9/jwks",
        internal_token=_SECRET,
        jwt_dev_signing_key="" if environment == "production" else "x" * 32,
        metrics_port=port,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as public,
    ):
        assert (await public.get("/healthz")).status_code == 200
        refused = await public.get("/metrics")
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
        scraped = await _scrape(port)
        assert scraped.status_code == 200
        assert 'route="/healthz",service="gateway"' in scraped.text
    with pytest.raises(httpx.ConnectError):  # stopped with the gateway
        await _scrape(port)


async def test_production_without_a_metrics_port_serves_no_metrics():
    settings = GatewaySettings(
        environment="production",
        jwks_url="http://127.0.0.1:9/jwks",
        internal_token=_SECRET,
        jwt_dev_signing_key="",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as public,
    ):
        assert (await public.get("/metrics")).status_code == 404


def test_exported_openapi_is_up_to_date():
    """Fails when a route changed without `python -m mes_gateway.openapi` being run."""
    assert openapi.EXPORT_PATH.read_text(encoding="utf-8") == openapi.render()


def test_openapi_documents_auth_problems_and_idempotency():
    document = json.loads(openapi.render())
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "IdempotencyKey" in document["components"]["parameters"]
    put = document["paths"]["/v1/admin/patients/{ins}"]["put"]
    assert put["security"] == [{"bearerAuth": []}]
    for status in ("401", "403", "422"):
        media = put["responses"][status]["content"]["application/problem+json"]
        assert media["schema"] == {"$ref": "#/components/schemas/PutPatientProfileProblem"}
        assert media["examples"]
    codes = document["components"]["schemas"]["PutPatientProfileProblemCode"]["enum"]
    assert {"invalid_ins", "forbidden_role", "unauthenticated"} <= set(codes)
    assert set(put["responses"]["422"]["content"]["application/problem+json"]["examples"]) >= {
        "wrong_length",
        "bad_characters",
        "wrong_key",
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_openapi_documents_what_any_body_may_get_and_a_patients_message_too_large():
    document = json.loads(openapi.render())
    with_body = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(with_body) >= 6
    for path, method, operation in with_body:
        assert {"400", "413"} <= set(operation["responses"]), (method, path)
    for path in ("/v1/me/conversations", "/v1/me/conversations/{conversation_id}/messages"):
        examples = document["paths"][path]["post"]["responses"]["413"]["content"][
            "application/problem+json"
        ]["examples"]
        assert {"message_too_large", "payload_too_large"} <= set(examples)


async def test_health_reports_the_processes_apart_when_they_run_apart(settings):
    """The conversations' reads and the mailbox's delivery, when each has a process of its
    own: while delivery is down, sends are accepted and nothing reaches the mailboxes."""
    alone = create_app(settings)
    apart = create_app(
        settings.model_copy(
            update={
                "conversation_reads_url": f"http://127.0.0.1:{free_port()}",
                "mailbox_delivery_url": f"http://127.0.0.1:{free_port()}",
            }
        )
    )
    reports = []
    for app in (alone, apart):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c,
        ):
            reports.append((await c.get("/health")).json()["services"])
    assert not {"conversation_reads", "mailbox_delivery"} & set(reports[0])
    assert reports[1]["conversation_reads"]["status"] == "unreachable"
    assert reports[1]["mailbox_delivery"]["status"] == "unreachable"
