"""Public shapes of messages, conversations, attachments and directory entries.

Responses are validated against these before they leave, so what a service stores never leaks
into the API by accident.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mes_contracts.addresses import MailboxType
from mes_contracts.events.conversation import ConversationCloseReason
from mes_contracts.events.parties import PartyKind
from mes_contracts.nondelivery import NonDeliveryReason

__all__ = [
    "MAX_BODY_CHARS",
    "AttachmentOut",
    "ContactList",
    "ConversationList",
    "ConversationOut",
    "ConversationState",
    "DirectoryEntryIn",
    "DirectoryEntryOut",
    "Folder",
    "MessageDetail",
    "MessageKind",
    "MessageList",
    "MessageSendIn",
    "MessageSendOut",
    "MessageStatus",
    "MessageSummary",
    "PatientMessageIn",
    "PatientNewConversationIn",
    "ReadOut",
]

_PRO = "dr.martin@hopital-exemple.mssante.fr"
_PATIENT = "279035121518989@patient.mssante.fr"
_MAX_ATTACHMENTS = 20
MAX_BODY_CHARS = 200_000

# Trimmed like `from` (a grant does not depend on surrounding spaces); what is left must be an
# address, which the routes check.
Recipient = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
AttachmentIds = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]],
    Field(default_factory=list, max_length=_MAX_ATTACHMENTS),
]


class ConversationState(StrEnum):
    """Whether the patient may still reply in a conversation: a health actor's `[FIN]` (or
    `X-MSS-MES: FIN`) closes it."""

    OPEN = "open"
    CLOSED = "closed"


class Folder(StrEnum):
    """Where a message sits in a mailbox: received (`inbox`) or written (`sent`)."""

    INBOX = "inbox"
    SENT = "sent"


class MessageKind(StrEnum):
    """A message written by someone, or one the system delivers: a non-delivery report (the
    exact French text) or a read receipt."""

    MESSAGE = "message"
    NON_DELIVERY = "non_delivery"
    READ_RECEIPT = "read_receipt"


class MessageStatus(StrEnum):
    """What became of a message sent: admitted for delivery, or bounced with a non-delivery
    report delivered to the sender."""

    ACCEPTED = "accepted"
    BOUNCED = "bounced"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageSendIn(_In):
    """A message from a health actor's MSSanté mailbox to a patient."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": _PRO,
                    "to": _PATIENT,
                    "subject": "Résultats d'analyse",
                    "body": "Bonjour, vos résultats sont disponibles en pièce jointe.",
                    "attachment_ids": [],
                    "read_receipt": True,
                }
            ]
        },
    )

    sender: str = Field(
        alias="from", max_length=254, description="A mailbox your token grants (claim `mailboxes`)"
    )
    to: Recipient = Field(description="The patient's address <INS>@patient.mssante.fr")
    subject: str = Field(max_length=998, description="`[FIN]` exactly closes the conversation")
    body: str = Field(
        max_length=MAX_BODY_CHARS, description="Text; no control character but tab and line breaks"
    )
    attachment_ids: AttachmentIds
    # Strict: JSON true or false only, never "1" or "yes" (one closes a conversation).
    read_receipt: bool = Field(
        default=False, strict=True, description="Ask for a read receipt (MDN)"
    )
    in_reply_to: str | None = Field(
        default=None, max_length=64, description="Message id this one answers"
    )
    fin: bool = Field(
        default=False,
        strict=True,
        description="Same effect as MSSanté's `X-MSS-MES: FIN` header: closes",
    )


class MessageSendOut(BaseModel):
    message_id: str
    conversation_id: str | None
    status: MessageStatus
    bounce_reason: NonDeliveryReason | None = Field(
        default=None,
        description="bounced only: why the message was not delivered (too_large: the message, "
        "subject and body in UTF-8 plus its attachments, is over 25 Mo: 26,214,400 bytes, "
        "1 Mo counting 1,048,576 bytes; exactly 26,214,400 bytes is delivered)",
    )
    report_text: str | None = Field(
        default=None,
        description="bounced only: the non-delivery text also delivered to the "
        "sender's mailbox, e.g. « Le message que vous avez envoyé à l'adresse ... »",
    )


class PatientMessageIn(_In):
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    attachment_ids: AttachmentIds


class PatientNewConversationIn(_In):
    to: Recipient = Field(
        description="A pharmacy's organisational mailbox, or a "
        "professional who wrote to you and has not ended the exchange",
    )
    subject: str = Field(min_length=1, max_length=998)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    attachment_ids: AttachmentIds


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class Correspondent(BaseModel):
    address: str
    display_name: str | None = None


class MessageSummary(BaseModel):
    id: str
    conversation_id: str | None = None
    folder: Folder
    kind: MessageKind
    subject: str
    sender: Correspondent
    recipient_address: str | None = None
    sent_at: datetime
    read: bool = Field(
        description="Whether this mailbox's owner has opened it; always true in `sent`"
    )
    read_at: datetime | None = Field(
        default=None,
        description="When this mailbox's owner first opened it; null in `sent` (whether the "
        "recipient read it comes as a read receipt, when one was asked for)",
    )
    status: MessageStatus | None = Field(
        default=None, description="In `sent` only: what became of the message"
    )
    bounce_reason: NonDeliveryReason | None = None
    attachments: list[AttachmentOut] = Field(default_factory=list)


class MessageDetail(MessageSummary):
    body: str
    in_reply_to: str | None = None
    read_receipt_requested: bool = False


class MessageList(BaseModel):
    items: list[MessageSummary]
    next_cursor: str | None = None


class ReadOut(BaseModel):
    read_at: datetime


class Party(BaseModel):
    address: str
    kind: PartyKind
    display_name: str | None = None


class ConversationOut(BaseModel):
    id: str
    subject: str
    state: ConversationState
    correspondent: Party = Field(
        description="The other side: for a patient, the health actor or pharmacy; in a "
        "mailbox's list, the patient (kind `patient`, display name as identity knows it)"
    )
    patient_ins: str | None = None
    opened_by: str | None = None
    opened_at: datetime
    last_activity_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_reason: ConversationCloseReason | None = None
    reply_allowed: bool = Field(
        description="Whether the patient may reply in it now: the conversation is open and, "
        "in the patient's own lists, their profile is neither closed nor opposed"
    )
    closed_notice: str | None = Field(
        default=None, description="e.g. « Dr Martin a mis fin à vos échanges. »"
    )
    unread_count: int = 0


class ConversationList(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None = None


class Contact(BaseModel):
    address: str
    kind: PartyKind
    display_name: str | None = None
    conversation_id: str | None = None
    finess: str | None = Field(
        default=None, description="A pharmacy's FINESS number (pharmacies offered by default)."
    )


class ContactList(BaseModel):
    items: list[Contact]


class DirectoryEntryIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "PER", "display_name": "Dr Claire Martin", "rpps": "10101234567"},
                {
                    "type": "ORG",
                    "display_name": "Pharmacie du Marché",
                    "finess": "750012345",
                    "pharmacy": True,
                },
            ]
        },
    )

    type: MailboxType
    # Trimmed before the length check, as the directory stores it.
    display_name: Annotated[str, StringConstraints(strip_whitespace=True)] = Field(
        min_length=1, max_length=200
    )
    rpps: str | None = Field(default=None, max_length=11)
    finess: str | None = Field(default=None, max_length=9)
    pharmacy: bool = Field(default=False, strict=True)
    alert_email: str | None = Field(
        default=None,
        max_length=254,
        description="ORG mailboxes: e-mail alerted when a message arrives (no medical content).",
        examples=["alertes@pharmacie-du-marche.fr"],
    )


class DirectoryEntryOut(BaseModel):
    address: str
    type: MailboxType
    display_name: str
    rpps: str | None = None
    finess: str | None = None
    pharmacy: bool = False
    updated_at: datetime | None = None
    alert_email: str | None = None
