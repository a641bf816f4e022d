"""Routes served from the app's own list answer as they did through ``include_router``: the
router's prefix, its dependencies (a refusal), its responses in the OpenAPI document, and the
405 of a path known under another method."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException

from mes_platform.runtime import add_routes


def _guard(x_internal_token: str = Header("")) -> None:
    if x_internal_token != "secret":
        raise HTTPException(401, "internal credential refused")


def _router() -> APIRouter:
    router = APIRouter(
        prefix="/internal/mailboxes",
        tags=["mailboxes"],
        dependencies=[Depends(_guard)],
        responses={404: {"description": "No such mailbox"}},
    )

    @router.get("/{address}")
    async def mailbox(address: str) -> dict[str, str]:
        return {"address": address}

    return router


async def test_a_route_keeps_its_router_s_prefix_dependencies_and_responses() -> None:
    app = FastAPI()
    add_routes(app, _router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        ok = await client.get("/internal/mailboxes/a@b", headers={"x-internal-token": "secret"})
        refused = await client.get("/internal/mailboxes/a@b")
        wrong_method = await client.delete(
            "/internal/mailboxes/a@b", headers={"x-internal-token": "secret"}
        )
        unknown = await client.get("/mailboxes/a@b", headers={"x-internal-token": "secret"})
    assert ok.json() == {"address": "a@b"}
    assert refused.status_code == 401
    assert wrong_method.status_code == 405
    assert unknown.status_code == 404
    operation = app.openapi()["paths"]["/internal/mailboxes/{address}"]["get"]
    assert operation["tags"] == ["mailboxes"]
    assert "404" in operation["responses"]


async def test_the_openapi_document_is_the_one_include_router_gives() -> None:
    included, added = FastAPI(), FastAPI()
    included.include_router(_router())
    add_routes(added, _router())
    assert added.openapi() == included.openapi()
