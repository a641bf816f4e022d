"""The patient's messaging: read, reply inside open conversations, start one where allowed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from mes_contracts.addresses import PatientAddress
from mes_contracts.internal.conversation import (
    ConversationPageOut,
    ConversationView,
    PatientReplyIn,
    PatientStartIn,
)
from mes_contracts.internal.pharmacies import DefaultPharmaciesOut
from mes_platform.paging import Cursor

from ..calls import answer_of, refused_as_invalid
from ..deps import PatientPrincipal, PatientSending, ServicesDep, idempotency_headers
from ..messaging_schemas import (
    Contact,
    ContactList,
    ConversationList,
    ConversationOut,
    MessageDetail,
    MessageList,
    MessageSendOut,
    PatientMessageIn,
    PatientNewConversationIn,
    ReadOut,
)
from ..principal import Principal
from ..problem_docs import AUTHENTICATED, problems
from ..settings import CONVERSATION_READS
from ._messaging_common import (
    Id,
    check_body,
    mark_message,
    q,
    relayed,
    relayed_model,
    resolve_attachments,
    unread_by_conversation,
    with_unread_count,
    with_unread_counts,
)

__all__ = ["MATCHED_FIRST", "router"]

# On every message's path: tried before the other features' routes (no other path overlaps).
MATCHED_FIRST = True

_READ = (*AUTHENTICATED, "invalid_ins", "invalid_address")
_SEND = (
    *AUTHENTICATED,
    "invalid_ins",
    "invalid_address",
    "invalid_body",
    "body_too_long",
    "empty_message",
    "attachment_unknown",
    "message_too_large",
    "concurrent_update",
    "invalid_idempotency_key",
    "idempotency_key_reused",
)

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=problems(*AUTHENTICATED))


def my_address(principal: Principal) -> str:
    assert principal.ins is not None  # guaranteed by the patient role
    return PatientAddress(principal.ins).format()


@router.get(
    "/conversations",
    response_model=ConversationList,
    operation_id="listMyConversations",
    summary="My conversations",
    responses=problems(*_READ, "invalid_cursor"),
)
async def my_conversations(
    principal: PatientPrincipal,
    services: ServicesDep,
    state: Annotated[Literal["open", "closed"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConversationList:
    """Each with the correspondent, its state, who closed it, the unread count and whether a
    reply is allowed. Most recent activity first: a conversation that receives a message while
    you page through the list moves to the top of the first page, so fetch the first page
    again to see it (the pages after it skip it)."""
    params: dict[str, Any] = {"limit": limit}
    if state:
        params["state"] = state
    if cursor:
        params["cursor"] = cursor
    answer = await services.get(
        CONVERSATION_READS, f"/internal/patients/{principal.ins}/conversations", params=params
    )
    page = answer_of(ConversationPageOut, CONVERSATION_READS, answer)
    return await with_unread_counts(services, my_address(principal), page.items, page.next_cursor)


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    operation_id="getMyConversation",
    summary="One of my conversations",
    description="With the correspondent, its state, who closed it and why, the unread count "
    "and whether a reply is allowed. Another patient's conversation does not exist for you "
    "(404 `conversation_not_found`).",
    responses=problems(*_READ, "conversation_not_found"),
)
async def my_conversation(
    conversation_id: Id, principal: PatientPrincipal, services: ServicesDep
) -> ConversationOut:
    answer = await services.get(
        CONVERSATION_READS,
        f"/internal/patients/{principal.ins}/conversations/{q(conversation_id)}",
    )
    item = answer_of(ConversationView, CONVERSATION_READS, answer)
    counts = await unread_by_conversation(services, my_address(principal), [conversation_id])
    return with_unread_count(item, counts.get(conversation_id, 0))


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessageList,
    operation_id="listMyConversationMessages",
    summary="Messages of one of my conversations, newest first",
    description="Listing marks nothing read (opening a message does); `next_cursor` gives "
    "the next page.",
    responses=problems(*_READ, "conversation_not_found", "invalid_cursor"),
)
async def my_conversation_messages(
    conversation_id: Id,
    principal: PatientPrincipal,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    params: dict[str, Any] = {"conversation_id": conversation_id, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    answer = await services.get(
        "mailbox", f"/internal/mailboxes/{q(my_address(principal))}/messages", params=params
    )
    page = MessageList.model_validate_json(answer.content)
    if not page.items:
        # Only the patient's own mailbox was read, so messages listed prove the conversation
        # is theirs; an empty page asks its owner: another patient's id is a 404, as an
        # unknown one. A patient's reads do not wait on the service that admits the sends.
        await services.get(
            CONVERSATION_READS,
            f"/internal/patients/{principal.ins}/conversations/{q(conversation_id)}",
        )
    return relayed_model(page)


@router.get(
    "/messages/{message_id}",
    response_model=MessageDetail,
    operation_id="openMyMessage",
    summary="Open one of my messages",
    responses=problems(*AUTHENTICATED, "invalid_address", "message_not_found"),
)
async def my_message(
    message_id: Id, principal: PatientPrincipal, services: ServicesDep
) -> Response:
    """Opening a message marks it read: the first opening sets `read_at` and, if the sender
    asked for a read receipt, sends it (the patient cannot refuse it). Opening it again
    changes nothing. Listing a conversation's messages marks nothing."""
    answer = await mark_message(services, my_address(principal), message_id, "open")
    return relayed(MessageDetail, answer)


@router.post(
    "/messages/{message_id}/read",
    response_model=ReadOut,
    operation_id="markMyMessageRead",
    summary="Mark one of my messages as read",
    responses=problems(*AUTHENTICATED, "invalid_address", "message_not_found"),
)
async def read_message(
    message_id: Id, principal: PatientPrincipal, services: ServicesDep
) -> ReadOut:
    """Marks it read without fetching it (opening it with `GET /v1/me/messages/{message_id}`
    does the same). If the sender asked for a read receipt, it is sent on the first read (the
    patient cannot refuse it)."""
    answer = await mark_message(services, my_address(principal), message_id, "read")
    return ReadOut.model_validate(answer.json())


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=202,
    response_model=MessageSendOut,
    operation_id="replyInConversation",
    summary="Reply inside a conversation",
    responses=problems(
        *_SEND, "conversation_not_found", "conversation_closed", "patient_profile_inactive"
    ),
)
async def reply(conversation_id: Id, body: PatientMessageIn, sending: PatientSending) -> Response:
    """Only inside a conversation a health actor opened and has not closed. The body is text:
    no control character but tab and line breaks (422 `invalid_body`); blanks alone, with no
    attachment, are no message (422 `empty_message`)."""
    principal, services = sending.principal, sending.services
    check_body(body.body)
    attachments = await resolve_attachments(services, my_address(principal), body.attachment_ids)
    with refused_as_invalid():
        message = PatientReplyIn(body=body.body, attachments=attachments)
    answer = await services.send(
        "conversation",
        "POST",
        f"/internal/patients/{principal.ins}/conversations/{q(conversation_id)}/messages",
        body=message,
        headers=idempotency_headers(sending.key),
    )
    return relayed(MessageSendOut, answer, status_code=202)


@router.post(
    "/conversations",
    status_code=201,
    response_model=MessageSendOut,
    operation_id="startConversation",
    summary="Start a conversation (a pharmacy, or a professional who wrote to me)",
    responses=problems(*_SEND, "initiation_not_allowed", "invalid_recipient"),
)
async def start_conversation(body: PatientNewConversationIn, sending: PatientSending) -> Response:
    """A patient cannot contact the professional of their choice: only a pharmacy's
    organisational mailbox (profile activated), or a professional who has written to them and
    has not ended the exchange. Otherwise 403 `initiation_not_allowed`. The body is text: no
    control character but tab and line breaks (422 `invalid_body`); a subject and a body of
    blanks alone, with no attachment, are no message (422 `empty_message`)."""
    principal, services = sending.principal, sending.services
    check_body(body.body)
    attachments = await resolve_attachments(services, my_address(principal), body.attachment_ids)
    with refused_as_invalid():
        message = PatientStartIn(
            to=body.to, subject=body.subject, body=body.body, attachments=attachments
        )
    answer = await services.send(
        "conversation",
        "POST",
        f"/internal/patients/{principal.ins}/conversations",
        body=message,
        headers=idempotency_headers(sending.key),
    )
    return relayed(MessageSendOut, answer, status_code=201)


@router.get(
    "/contacts",
    response_model=ContactList,
    operation_id="listMyContacts",
    summary="Professionals and establishments I can write to",
    responses=problems(*AUTHENTICATED, "invalid_ins"),
)
async def my_contacts(principal: PatientPrincipal, services: ServicesDep) -> ContactList:
    """Those I have an exchange open with, one entry each, with the most recent of our open
    conversations: the professionals who wrote to me and have not ended the exchange, and the
    pharmacies with a conversation still open (a pharmacy's `[FIN]` closes one conversation,
    not the others); then the pharmacies offered by default (`kind` `pharmacy`, with their
    `finess`): those I was dispensed at in the last 12 months that have an organisational
    mailbox."""
    answer = await services.get(CONVERSATION_READS, f"/internal/patients/{principal.ins}/contacts")
    contacts = ContactList.model_validate(answer.json())
    defaults = await services.get(
        "directory", f"/internal/patients/{principal.ins}/default-pharmacies"
    )
    listed = {c.address for c in contacts.items}
    for item in DefaultPharmaciesOut.model_validate_json(defaults.content).items:
        mailbox = item.pharmacy.mailbox
        if mailbox is not None and mailbox not in listed:
            listed.add(mailbox)
            contacts.items.append(
                Contact(
                    address=mailbox,
                    kind="pharmacy",
                    display_name=item.pharmacy.name,
                    finess=item.pharmacy.finess,
                )
            )
    return contacts
