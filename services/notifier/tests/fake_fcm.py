"""A local server that plays Firebase Cloud Messaging (OAuth2 token endpoint and HTTP v1
send) on 127.0.0.1, for the tests of the FCM adapter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mes_dev.testing import free_port

__all__ = ["FakeFcm"]


@dataclass
class FakeFcm:
    project: str = "mes-test"
    port: int = field(default_factory=free_port)
    unregistered: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def credentials(self, directory: Path) -> Path:
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path = directory / "service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": self.project,
                    "private_key_id": "k1",
                    "private_key": pem,
                    "client_email": f"push@{self.project}.iam.gserviceaccount.com",
                    "token_uri": f"{self.url}/token",
                }
            )
        )
        return path

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = jwt.decode(
            str(form["assertion"]),
            self.key.public_key(),
            algorithms=["RS256"],
            audience=f"{self.url}/token",
        )
        assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
        self.tokens_issued += 1
        return web.json_response({"access_token": "ya29.test", "expires_in": 3600})

    async def _send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer ya29.test":
            return web.json_response(
                {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401
            )
        body = await request.json()
        token = body["message"]["token"]
        if token in self.unregistered:
            return web.json_response(
                {
                    "error": {
                        "code": 404,
                        "message": "Requested entity was not found.",
                        "status": "NOT_FOUND",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "UNREGISTERED",
                            }
                        ],
                    }
                },
                status=404,
            )
        self.sent.append(body["message"])
        return web.json_response({"name": f"projects/{self.project}/messages/{len(self.sent)}"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post(f"/v1/projects/{self.project}/messages:send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
