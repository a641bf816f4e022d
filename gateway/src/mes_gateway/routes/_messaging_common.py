"""Helpers shared by the professional and patient messaging routes (not a router)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

import httpx
from fastapi import Path, Response
from pydantic import BaseModel

from mes_contracts.addresses import AddressError, AddressInvalidReason, parse_address
from mes_contracts.events.parties import AttachmentRef
from mes_contracts.internal.conversation import ConversationView, MailboxConversationView
from mes_contracts.internal.mailbox import (
    AttachmentsResolveIn,
    AttachmentsResolveOut,
    UnreadCountsOut,
)
from mes_platform.clients import path_segment as q
from mes_platform.errors import Unprocessable

from ..calls import answer_of, refused_as_invalid
from ..messaging_schemas import ConversationList, ConversationOut
from ..services import ServiceClients

__all__ = [
    "Id",
    "check_body",
    "check_recipient",
    "mark_message",
    "q",
    "relayed",
    "relayed_model",
    "resolve_attachments",
    "unread_by_conversation",
    "with_unread_count",
    "with_unread_counts",
]

# A message's or a conversation's id in a path: the services' id width.
Id = Annotated[str, Path(max_length=64)]

# Control characters (C0, DEL and C1: Unicode's Cc) but TAB, LF and CR: not text. PostgreSQL's
# text type refuses NUL, so such a body would fail after its 202; the others would reach the
# recipient's software as is (C1 codes are what mis-decoded Windows-1252 text leaves behind).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_body(body: str) -> str:
    """``body`` if it is text, else 422 ``invalid_body`` (one scan, in C, of at most 200,000
    characters)."""
    if _CONTROL.search(body) is not None:
        raise Unprocessable(
            "The body must not contain control characters other than tab, carriage return "
            "and line feed.",
            code="invalid_body",
        )
    return body


def check_recipient(to: str) -> str:
    """``to`` if it is written as an address, else 422 ``invalid_recipient``.

    Only the syntax is the gateway's to refuse: a patient address with a wrong INS (length,
    key, characters) is well formed and bounces as "invalidé" (DOMAIN.md), and where an address
    may go is the conversation service's rule."""
    try:
        parse_address(to)
    except AddressError as exc:
        if exc.reason is AddressInvalidReason.MALFORMED:
            raise Unprocessable(
                f"'to' is not an address: {exc.detail}.",
                code="invalid_recipient",
                reason=exc.reason.value,
            ) from exc
    return to


def relayed(model: type[BaseModel], answer: httpx.Response, status_code: int = 200) -> Response:
    """A service's answer as the public ``model``: what the model does not declare is left
    out. Read from the bytes and written back in one pass each (through FastAPI's response
    model it was parsed, validated twice and encoded: on every message's path)."""
    return relayed_model(model.model_validate_json(answer.content), status_code)


def relayed_model(value: BaseModel, status_code: int = 200) -> Response:
    """An answer already read into its public model, written in one pass (the route declares
    the same model as its ``response_model``, for the OpenAPI only)."""
    return Response(
        value.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json"
    )


async def mark_message(
    services: ServiceClients, mailbox: str, message_id: str, action: Literal["open", "read"]
) -> httpx.Response:
    """The mailbox's ``open`` (the message, marked read) or ``read`` (only the mark) of one of
    ``mailbox``'s messages: idempotent, so retried on a failed connection."""
    return await services.send(
        "mailbox",
        "POST",
        f"/internal/mailboxes/{q(mailbox)}/messages/{q(message_id)}/{action}",
        idempotent=True,
    )


async def resolve_attachments(
    services: ServiceClients, owner: str, ids: list[str]
) -> list[AttachmentRef]:
    """The attachments' references (with their sizes), checked by the mailbox service: they
    exist, and ``owner`` uploaded or received them. The message's size is judged by the
    conversation service, which bounces a professional's message over the limit."""
    if not ids:
        return []
    with refused_as_invalid():
        call = AttachmentsResolveIn(owner=owner, ids=ids)
    answer = await services.send("mailbox", "POST", "/internal/attachments/resolve", body=call)
    return answer_of(AttachmentsResolveOut, "mailbox", answer).items


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
    return answer_of(UnreadCountsOut, "mailbox", answer).by_conversation


def with_unread_count(
    view: ConversationView | MailboxConversationView, unread_count: int
) -> ConversationOut:
    """A conversation of the service, as the API shows it."""
    return ConversationOut.model_validate(
        {**view.model_dump(mode="json"), "unread_count": unread_count}
    )


async def with_unread_counts(
    services: ServiceClients,
    mailbox: str,
    items: Sequence[ConversationView | MailboxConversationView],
    next_cursor: str | None,
) -> ConversationList:
    counts = await unread_by_conversation(services, mailbox, [item.id for item in items])
    return ConversationList(
        items=[with_unread_count(item, counts.get(item.id, 0)) for item in items],
        next_cursor=next_cursor,
    )
