"""The gateway in-process, with the identity service in-process behind it (real NATS, SQLite).

Services other than identity point at ports where nothing listens, so they are unreachable.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from mes_dev.testing.nats_server import NatsServer, free_port
from mes_gateway.main import create_app
from mes_gateway.settings import GatewaySettings
from mes_identity.main import create_app as create_identity_app
from mes_identity.settings import IdentitySettings


def gateway_settings(**overrides: Any) -> GatewaySettings:
    """Test settings; every service URL is a closed port unless given."""
    values: dict[str, Any] = {"environment": "test", "log_json": False}
    for name in ("identity", "mailbox", "conversation", "directory", "notifier"):
        values[f"{name}_url"] = f"http://127.0.0.1:{free_port()}"
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def settings() -> GatewaySettings:
    return gateway_settings()


@pytest.fixture
def sign(settings: GatewaySettings) -> Callable[..., str]:
    """Sign claims like a development token; keyword arguments override the defaults."""

    def _sign(key: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "sub": "someone",
            "role": "ops",
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "iat": now,
            "exp": now + 600,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(
            body, key or settings.jwt_dev_signing_key.get_secret_value(), algorithm="HS256"
        )

    return _sign


@pytest.fixture
async def gateway_app(settings: GatewaySettings) -> AsyncIterator[FastAPI]:
    """The gateway application alone, started: every service unreachable."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def gateway(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway alone."""
    async with _client(gateway_app) as client:
        yield client


@pytest.fixture
async def identity_app(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[FastAPI]:
    app = create_identity_app(
        IdentitySettings(data_dir=tmp_path, nats_url=nats_server.url, log_json=False)
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def stack(
    settings: GatewaySettings, identity_app: FastAPI
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with the identity service behind it."""
    app = create_app(settings, transports={"identity": httpx.ASGITransport(app=identity_app)})
    async with app.router.lifespan_context(app), _client(app) as client:
        yield client


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
def dev_token() -> Callable[..., Any]:
    """``await dev_token(client, role=...)``: the Authorization header of a token minted by
    POST /v1/dev/tokens."""

    async def _issue(client: httpx.AsyncClient, **body: Any) -> dict[str, str]:
        response = await client.post("/v1/dev/tokens", json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _issue
