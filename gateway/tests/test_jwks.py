"""Production verification: RS256 tokens checked against a real JWKS served over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mes_gateway.main import create_app
from mes_gateway.settings import GatewaySettings

ISSUER = "https://idp.example/realms/mes"
ADMIN_BAD_INS = "/v1/admin/patients/123"  # 422 invalid_ins once the token is accepted


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture
def jwks_server(signing_key) -> Iterator[tuple[str, list[str]]]:
    """A tiny identity provider publishing the public key as ``kid=key-1``."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "key-1", "alg": "RS256", "use": "sig"}]})
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            body = document.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", fetched
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def production(jwks_server):
    settings = GatewaySettings(
        environment="production",
        jwks_url=jwks_server[0],
        jwt_issuer=ISSUER,
        internal_token="a-real-internal-secret-of-32-chars",
        jwt_dev_signing_key="",
        log_json=False,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        yield client


def token(key, *, kid="key-1", algorithm="RS256", **claims) -> str:
    now = int(time.time())
    body = {
        "sub": "ops-1",
        "role": "ops",
        "iss": ISSUER,
        "aud": "mes-messagerie",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_token_signed_by_the_provider_is_accepted_and_keys_are_cached(
    production, signing_key, jwks_server
):
    for _ in range(3):
        response = await production.get(ADMIN_BAD_INS, headers=bearer(token(signing_key)))
        assert response.status_code == 422 and response.json()["code"] == "invalid_ins"
    assert len(jwks_server[1]) == 1


async def test_forged_or_foreign_tokens_are_refused(production, signing_key):
    cases = {
        "bad_signature": token(_rsa_key()),  # right kid, another key
        "unknown_key": token(signing_key, kid="key-9"),
        "wrong_issuer": token(signing_key, iss="mes-messagerie-dev"),
        "wrong_audience": token(signing_key, aud="other-api"),
        "expired": token(signing_key, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
    }
    for reason, value in cases.items():
        response = await production.get(ADMIN_BAD_INS, headers=bearer(value))
        assert response.status_code == 401, reason
        assert (response.json()["code"], response.json()["reason"]) == ("invalid_token", reason)


async def test_development_tokens_mean_nothing_in_production(production):
    dev = token("dev-jwt-signing-key-change-me-0123456789", algorithm="HS256")
    response = await production.get(ADMIN_BAD_INS, headers=bearer(dev))
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"
    assert (await production.post("/v1/dev/tokens", json={"role": "ops"})).status_code == 404
