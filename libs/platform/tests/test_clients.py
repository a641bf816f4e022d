"""Clients between services keep no cookies: an internal answer carries no session."""

from __future__ import annotations

import httpx
import pytest

from mes_platform.clients import InternalClient, internal_client


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
        with pytest.raises(TypeError):
            client.cookies = {"a": "b"}
    assert "cookie" not in seen[1].headers


async def test_the_services_clients_are_internal_clients() -> None:
    async with internal_client("http://svc", "internal-secret") as client:
        assert isinstance(client, InternalClient)
        assert client.headers["x-internal-token"] == "internal-secret"
