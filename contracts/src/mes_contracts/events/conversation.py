"""Events of the conversation service: admission of messages, opening and closing."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from mes_contracts.addresses import MssanteAddressStr
from mes_contracts.events.base import EventPayload, UtcDatetime
from mes_contracts.events.parties import AttachmentRef, Party
from mes_contracts.ins import Ins
from mes_contracts.nondelivery import NonDeliveryReason

_PROFESSIONAL = {
    "address": "dr.martin@hopital-exemple.mssante.fr",
    "kind": "professional",
    "display_name": "Dr Martin",
}
_PATIENT = {
    "address": "279035121518989@patient.mssante.fr",
    "kind": "patient",
    "display_name": "Marie Dupont",
}

__all__ = [
    "ConversationCloseReason",
    "ConversationClosed",
    "ConversationOpened",
    "MessageAccepted",
    "MessageBounced",
]


class ConversationCloseReason(StrEnum):
    """Why a conversation was closed."""

    FIN = "fin"  # the health actor sent "[FIN]" or "X-MSS-MES: FIN"
    IDLE = "idle"  # closed automatically after a period without activity


class MessageAccepted(EventPayload):
    """A message was admitted; delivery into mailboxes and notifications follow."""

    SUBJECT: ClassVar[str] = "mes.conversation.message.accepted.v1"

    message_id: str = Field(description="Identifier of the message.", examples=["msg-01HZX3K9"])
    conversation_id: str = Field(
        description="Identifier of the conversation.", examples=["conv-01HZX3K0"]
    )
    sender: Party = Field(description="Who sent the message.", examples=[_PROFESSIONAL])
    recipient: Party = Field(description="Who receives the message.", examples=[_PATIENT])
    subject: str = Field(description="Subject line.", examples=["Résultats d'analyses"])
    body: str = Field(description="Plain-text body.", examples=["Bonjour, voici vos résultats."])
    # A tuple keeps the frozen event immutable; on the wire it is a JSON array.
    attachments: tuple[AttachmentRef, ...] = Field(
        default=(), description="Attachments, already stored.", examples=[[]]
    )
    read_receipt_requested: bool = Field(
        default=False,
        description="Whether the sender asked for a read receipt (accusé de lecture).",
        examples=[True],
    )
    in_reply_to: str | None = Field(
        default=None,
        description="Identifier of the message this one answers; null for a first message.",
        examples=["msg-01HZX2AA"],
    )
    closes_conversation: bool = Field(
        default=False,
        description="Whether this message ends the conversation ([FIN] or X-MSS-MES: FIN).",
        examples=[False],
    )
    sent_at: UtcDatetime = Field(
        description="When the message was sent (UTC).", examples=["2024-05-02T09:30:00Z"]
    )


class MessageBounced(EventPayload):
    """A message to a patient was not delivered; a report goes back to the sender."""

    SUBJECT: ClassVar[str] = "mes.conversation.message.bounced.v1"

    message_id: str = Field(description="Identifier of the message.", examples=["msg-01HZX3K9"])
    sender: Party = Field(
        description="Who sent the message, and receives the report.", examples=[_PROFESSIONAL]
    )
    # A plain string: an invalid address is itself a reason to bounce.
    recipient_address: str = Field(
        description="Recipient address as the sender wrote it.",
        examples=["279035121518989@patient.mssante.fr"],
    )
    subject: str = Field(description="Subject of the bounced message.", examples=["Compte rendu"])
    reason: NonDeliveryReason = Field(description="Why it was not delivered.", examples=["closed"])
    report_text: str = Field(
        description="Exact French text of the non-delivery report.",
        examples=[
            'Le message que vous avez envoyé à l\'adresse "279035121518989@patient.mssante.fr"'
            " n'a pas pu être distribué, car la messagerie Mon espace santé de votre"
            " destinataire est clôturée."
        ],
    )
    bounced_at: UtcDatetime = Field(
        description="When delivery was refused (UTC).", examples=["2024-05-02T09:30:01Z"]
    )


class ConversationOpened(EventPayload):
    """A conversation between a patient and a health actor started."""

    SUBJECT: ClassVar[str] = "mes.conversation.conversation.opened.v1"

    conversation_id: str = Field(
        description="Identifier of the conversation.", examples=["conv-01HZX3K0"]
    )
    patient_ins: Ins = Field(
        description="Matricule INS of the patient in the conversation.",
        examples=["279035121518989"],
    )
    correspondent: Party = Field(
        description="The health actor the patient exchanges with.", examples=[_PROFESSIONAL]
    )
    opened_by: MssanteAddressStr = Field(
        description="Address of whoever sent the first message (patient or health actor).",
        examples=["dr.martin@hopital-exemple.mssante.fr"],
    )
    opened_at: UtcDatetime = Field(
        description="When the conversation started (UTC).", examples=["2024-05-02T09:30:00Z"]
    )
    subject: str = Field(
        description="Subject of the first message.", examples=["Résultats d'analyses"]
    )


class ConversationClosed(EventPayload):
    """A conversation was closed; the patient can no longer reply in it."""

    SUBJECT: ClassVar[str] = "mes.conversation.conversation.closed.v1"

    conversation_id: str = Field(
        description="Identifier of the conversation.", examples=["conv-01HZX3K0"]
    )
    patient_ins: Ins = Field(
        description="Matricule INS of the patient in the conversation.",
        examples=["279035121518989"],
    )
    correspondent: Party = Field(
        description="The health actor the patient exchanges with.", examples=[_PROFESSIONAL]
    )
    closed_by: MssanteAddressStr = Field(
        description="Address of the health actor (or its software) that closed it.",
        examples=["dr.martin@hopital-exemple.mssante.fr"],
    )
    closed_at: UtcDatetime = Field(
        description="When the conversation was closed (UTC).", examples=["2024-05-03T17:00:00Z"]
    )
    reason: ConversationCloseReason = Field(description="Why it was closed.", examples=["fin"])
