"""Professional messaging: a health actor writes from an MSSanté mailbox its token grants."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from mes_contracts.internal.conversation import HealthActorMessageIn, MailboxConversationPageOut
from mes_platform.errors import Unprocessable
from mes_platform.paging import Cursor

from ..calls import answer_of, refused_as_invalid
from ..deps import MailboxHolder, ProfessionalSending, ServicesDep, idempotency_headers
from ..messaging_schemas import (
    ConversationList,
    MessageDetail,
    MessageList,
    MessageSendIn,
    MessageSendOut,
    ReadOut,
)
from ..problem_docs import AUTHENTICATED, problems
from ..settings import CONVERSATION_READS
from ._messaging_common import (
    Id,
    check_body,
    check_recipient,
    mark_message,
    q,
    relayed,
    resolve_attachments,
    with_unread_counts,
)

__all__ = ["MATCHED_FIRST", "TAGS", "router"]

# On every message's path: tried before the other features' routes (no other path overlaps).
MATCHED_FIRST = True

TAGS = [
    {
        "name": "messaging",
        "description": "Professionals' and applications' messaging "
        "(roles `professional`, `application`).",
    }
]

router = APIRouter(tags=["messaging"], responses=problems(*AUTHENTICATED))

Address = Annotated[str, Path(max_length=254, examples=["dr.martin@hopital-exemple.mssante.fr"])]
Limit = Annotated[int, Query(ge=1, le=100)]
# Documented here, read from the request in the route: as a FastAPI header parameter it cost
# about 25 µs of every message sent (FastAPI's parameter extraction), for a header rarely sent.
_MSS_MES_PARAMETER = {
    "name": "X-MSS-MES",
    "in": "header",
    "required": False,
    "description": "MSSanté's end-of-exchange header: `FIN` (any case, surrounding spaces "
    "ignored) closes the conversation, as `fin: true` does; any other value is refused "
    "(422 `invalid_mss_mes`)",
    "schema": {"$ref": "#/components/schemas/EndOfExchange"},
    "example": "FIN",
}
_MAILBOX_READ = (*AUTHENTICATED, "mailbox_not_granted", "invalid_address")


def fin_header(value: str | None) -> bool:
    """Whether an ``X-MSS-MES`` header asks to close; a value other than FIN is refused, since
    a sender who sent one meant something this product would silently ignore."""
    if value is None:
        return False
    if value.strip(" \t").lower() == "fin":
        return True
    raise Unprocessable("The X-MSS-MES header accepts only the value FIN.", code="invalid_mss_mes")


@router.post(
    "/v1/messages",
    status_code=202,
    response_model=MessageSendOut,
    summary="Send a message to a patient",
    operation_id="sendMessage",
    openapi_extra={"parameters": [_MSS_MES_PARAMETER]},
    responses={
        202: {
            "description": "Accepted for delivery, or bounced: a non-delivery report with "
            "the reason is then delivered to the sender's mailbox"
        },
        **problems(
            *AUTHENTICATED,
            "mailbox_not_granted",
            "mailbox_type_not_allowed",
            "sender_not_registered",
            "invalid_sender",
            "recipient_not_patient",
            "invalid_recipient",
            "invalid_body",
            "body_too_long",
            "empty_message",
            "invalid_mss_mes",
            "attachment_unknown",
            "invalid_address",
            "concurrent_update",
            "invalid_idempotency_key",
            "idempotency_key_reused",
        ),
    },
)
async def send_message(
    body: MessageSendIn, sending: ProfessionalSending, request: Request
) -> Response:
    """Admission is synchronous: once this answers 202 the message is recorded and will be
    delivered (or bounced with the exact French non-delivery text). The same
    `Idempotency-Key` never sends twice.

    **Sender.** `from` must be a mailbox your token grants (403 `mailbox_not_granted`). An
    application mailbox (APP) sends with an `application` token, the other mailboxes with a
    `professional` one (403 `mailbox_type_not_allowed`).

    **Closing.** A subject of exactly `[FIN]`, `"fin": true`, or MSSanté's header
    `X-MSS-MES: FIN` (value case-insensitive) closes the conversation; the patient can no
    longer reply in it. Another value of `X-MSS-MES` is refused (422 `invalid_mss_mes`).

    **Recipient.** `to` (surrounding spaces ignored) must be written as an address (422
    `invalid_recipient` otherwise); a patient address whose INS has a wrong length or key is
    accepted and bounces as invalid. The body is text: no control character but tab and line
    breaks (422 `invalid_body`)."""
    principal, services = sending.principal, sending.services
    sender = principal.require_mailbox(body.sender)
    fin = fin_header(request.headers.get("x-mss-mes")) or body.fin
    to = check_recipient(body.to)
    check_body(body.body)
    attachments = await resolve_attachments(services, sender, body.attachment_ids)
    with refused_as_invalid():
        message = HealthActorMessageIn(
            from_=sender,
            to=to,
            subject=body.subject,
            body=body.body,
            attachments=attachments,
            read_receipt=body.read_receipt,
            in_reply_to=body.in_reply_to,
            fin=fin,
            sent_by=principal.role.value,
        )
    answer = await services.send(
        "conversation",
        "POST",
        "/internal/messages",
        body=message,
        headers=idempotency_headers(sending.key),
    )
    return relayed(MessageSendOut, answer, status_code=202)


@router.get(
    "/v1/mailboxes/{address}/messages",
    response_model=MessageList,
    operation_id="listMailboxMessages",
    summary="List a mailbox's messages, newest first",
    description="The messages of one of the mailboxes your token grants, in a folder "
    "(`inbox` or `sent`), optionally of one conversation; `next_cursor` gives the next page. "
    "Listing marks nothing read.",
    responses=problems(*_MAILBOX_READ, "invalid_cursor"),
)
async def list_messages(
    address: Address,
    principal: MailboxHolder,
    services: ServicesDep,
    folder: Annotated[Literal["inbox", "sent"], Query()] = "inbox",
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    mailbox = principal.require_mailbox(address)
    params: dict[str, Any] = {"folder": folder, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    if conversation_id:
        params["conversation_id"] = conversation_id
    answer = await services.get(
        "mailbox", f"/internal/mailboxes/{q(mailbox)}/messages", params=params
    )
    return relayed(MessageList, answer)


@router.get(
    "/v1/mailboxes/{address}/messages/{message_id}",
    response_model=MessageDetail,
    operation_id="openMailboxMessage",
    summary="Open one message of a mailbox",
    responses=problems(*_MAILBOX_READ, "message_not_found"),
)
async def get_message(
    address: Address,
    message_id: Id,
    principal: MailboxHolder,
    services: ServicesDep,
) -> Response:
    """Opening a message marks it read, as fetching a message does in IMAP: the first opening
    sets `read_at` and lowers the conversation's unread count; opening it again changes
    nothing."""
    mailbox = principal.require_mailbox(address)
    return relayed(MessageDetail, await mark_message(services, mailbox, message_id, "open"))


@router.post(
    "/v1/mailboxes/{address}/messages/{message_id}/read",
    response_model=ReadOut,
    operation_id="markMailboxMessageRead",
    summary="Mark one message of a mailbox as read",
    responses=problems(*_MAILBOX_READ, "message_not_found"),
)
async def read_message(
    address: Address,
    message_id: Id,
    principal: MailboxHolder,
    services: ServicesDep,
) -> ReadOut:
    """Without fetching it; idempotent (the first read's time stays)."""
    mailbox = principal.require_mailbox(address)
    answer = await mark_message(services, mailbox, message_id, "read")
    return ReadOut.model_validate(answer.json())


@router.get(
    "/v1/mailboxes/{address}/conversations",
    response_model=ConversationList,
    operation_id="listMailboxConversations",
    summary="Conversations of a mailbox with patients",
    responses=problems(*_MAILBOX_READ, "invalid_cursor"),
)
async def list_conversations(
    address: Address,
    principal: MailboxHolder,
    services: ServicesDep,
    state: Annotated[Literal["open", "closed"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConversationList:
    """Most recent activity first: a conversation that receives a message while you page
    through the list moves to the top of the first page, so fetch the first page again to see
    it (the pages after it skip it)."""
    mailbox = principal.require_mailbox(address)
    params: dict[str, Any] = {"limit": limit}
    if state:
        params["state"] = state
    if cursor:
        params["cursor"] = cursor
    answer = await services.get(
        CONVERSATION_READS, f"/internal/mailboxes/{q(mailbox)}/conversations", params=params
    )
    page = answer_of(MailboxConversationPageOut, CONVERSATION_READS, answer)
    return await with_unread_counts(services, mailbox, page.items, page.next_cursor)
