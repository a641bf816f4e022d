"""HTTP adapter: the gateway's admin and development routes, over one ``httpx.AsyncClient``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .importer import Answer, Unreachable

__all__ = ["DEFAULT_GATEWAY_URL", "GatewayClient", "TokenUnavailable", "fetch_dev_token"]

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"


class TokenUnavailable(Exception):
    """No token given and the gateway does not hand out development tokens."""


def _answer(response: httpx.Response) -> Answer:
    problem: Mapping[str, Any] | None = None
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        problem = body if isinstance(body, dict) else {"detail": response.text[:200]}
    retry_after: float | None = None
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            retry_after = float(header)
        except ValueError:
            retry_after = None  # an HTTP date: fall back to our own backoff
    return Answer(response.status_code, problem, retry_after)


class GatewayClient:
    """Implements ``importer.AdminApi``; also the address resolution query."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def put_patient(self, ins: str, body: Mapping[str, Any]) -> Answer:
        try:
            response = await self._http.put(
                f"/v1/admin/patients/{quote(ins, safe='')}", json=dict(body)
            )
        except httpx.TransportError as error:
            raise Unreachable(f"{type(error).__name__}: {error}") from error
        return _answer(response)

    async def resolve(self, address: str) -> tuple[Answer, Any]:
        """``GET /v1/admin/addresses/{address}/resolution``: the answer and its JSON body."""
        try:
            response = await self._http.get(
                f"/v1/admin/addresses/{quote(address, safe='@')}/resolution"
            )
        except httpx.TransportError as error:
            raise Unreachable(f"{type(error).__name__}: {error}") from error
        try:
            body = response.json()
        except ValueError:
            body = None
        return _answer(response), body


async def fetch_dev_token(http: httpx.AsyncClient) -> str:
    """Ask a development gateway for an ops token (``POST /v1/dev/tokens``).

    Production gateways have no such route (404): the operator must then pass a real token.
    """
    try:
        response = await http.post("/v1/dev/tokens", json={"role": "ops"})
    except httpx.TransportError as error:
        raise Unreachable(f"{type(error).__name__}: {error}") from error
    if response.status_code in (404, 405):
        raise TokenUnavailable(
            "this gateway does not issue development tokens: pass --token or set MES_ADMIN_TOKEN"
        )
    if response.status_code >= 400:
        raise TokenUnavailable(
            f"could not get a development token (HTTP {response.status_code}): "
            f"{response.text[:200]}"
        )
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenUnavailable("the development token answer has no access_token")
    return token
