"""Helpers shared by the professional and patient messaging routes (not a router)."""

from __future__ import annotations

from typing import Any

from mes_platform.clients import path_segment as q

from ..messaging_schemas import ConversationList
from ..services import ServiceClients

__all__ = ["q", "resolve_attachments", "unread_by_conversation", "with_unread_counts"]


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
