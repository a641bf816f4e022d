"""Helpers shared by the professional and patient messaging routes (not a router)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Response
from pydantic import BaseModel

from mes_platform.clients import path_segment as q

from ..messaging_schemas import ConversationList
from ..services import ServiceClients

__all__ = ["q", "relayed", "resolve_attachments", "unread_by_conversation", "with_unread_counts"]


def relayed(model: type[BaseModel], answer: httpx.Response, status_code: int = 200) -> Response:
    """A service's answer as the public ``model``: what the model does not declare is left
    out. Read from the bytes and written back in one pass each (through FastAPI's response
    model it was parsed, validated twice and encoded: on every message's path)."""
    return Response(
        model.model_validate_json(answer.content).model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


async def resolve_attachments(
    services: ServiceClients, owner: str, ids: list[str]
) -> list[dict[str, Any]]:
    """The attachments' references, checked by the mailbox service: they exist, ``owner``
    uploaded or received them, and together they stay under the message size limit."""
    if not ids:
        return []
    answer = await services.send(
        "mailbox", "POST", "/internal/attachments/resolve", json={"owner": owner, "ids": ids}
    )
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def unread_by_conversation(
    services: ServiceClients, mailbox: str, conversation_ids: list[str]
) -> dict[str, int]:
    """Unread counts of these conversations only (the mailbox counts nothing else)."""
    if not conversation_ids:
        return {}
    answer = await services.get(
        "mailbox",
        f"/internal/mailboxes/{q(mailbox)}/unread-counts",
        params={"conversation_id": conversation_ids},
    )
    counts: dict[str, int] = answer.json().get("by_conversation", {})
    return counts


async def with_unread_counts(
    services: ServiceClients, mailbox: str, page: dict[str, Any]
) -> ConversationList:
    items = page.get("items", [])
    counts = await unread_by_conversation(services, mailbox, [item["id"] for item in items])
    for item in items:
        item["unread_count"] = counts.get(item["id"], 0)
    return ConversationList.model_validate(page)
