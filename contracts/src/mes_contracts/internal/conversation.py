"""The conversation service's calls (by the gateway).

Admissions answer an :class:`AdmissionOut`: ``POST /internal/messages`` with
:class:`HealthActorMessageIn` (202, accepted or bounced), ``POST
/internal/patients/{ins}/conversations/{id}/messages`` with :class:`PatientReplyIn` (202) and
``POST /internal/patients/{ins}/conversations`` with :class:`PatientStartIn` (201). Each honours
an ``Idempotency-Key`` header.

Reads: a patient's conversations (:class:`ConversationPageOut`, :class:`ConversationView`), a
mailbox's (:class:`MailboxConversationPageOut`), a patient's contacts (:class:`ContactsOut`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.events.parties import AttachmentRef, PartyKind

__all__ = [
    "MAX_ATTACHMENTS",
    "AdmissionOut",
    "AdmissionStatus",
    "ContactOut",
    "ContactsOut",
    "ConversationFields",
    "ConversationPageOut",
    "ConversationView",
    "CorrespondentOut",
    "HealthActorMessageIn",
    "MailboxConversationPageOut",
    "MailboxConversationView",
    "PatientCorrespondentOut",
    "PatientReplyIn",
    "PatientStartIn",
]

_ADDRESS = 320
MAX_ATTACHMENTS = 100

AdmissionStatus = Literal["accepted", "bounced"]


class HealthActorMessageIn(BaseModel):
    """A message from a health actor's mailbox, as the gateway accepted it."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: str = Field(
        alias="from",
        min_length=3,
        max_length=_ADDRESS,
        examples=["dr.martin@hopital-exemple.mssante.fr"],
    )
    to: str = Field(
        min_length=3, max_length=_ADDRESS, examples=["279035121518989@patient.mssante.fr"]
    )
    subject: str = Field(examples=["Résultats d'analyses"])
    body: str = Field(examples=["Bonjour, voici vos résultats."])
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    read_receipt: bool = False
    in_reply_to: str | None = Field(default=None, max_length=100)
    fin: bool = Field(default=False, description="The X-MSS-MES: FIN header: ends the exchange.")
    sent_by: Literal["professional", "application"] | None = Field(
        default=None,
        description="The token's role: an application sends from an APP mailbox, a "
        "professional from the others (unchecked when absent).",
    )


class PatientReplyIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    body: str
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    subject: str | None = Field(
        default=None, description='Default: "Re: " + the conversation subject.'
    )


class PatientStartIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str = Field(
        min_length=3, max_length=_ADDRESS, examples=["pharmacie.centrale@officine.mssante.fr"]
    )
    subject: str
    body: str
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class AdmissionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    conversation_id: str | None
    status: AdmissionStatus = Field(description="accepted or bounced")
    bounce_reason: str | None = Field(
        default=None, description="not_found, closed, invalid or too_large"
    )
    report_text: str | None = Field(
        default=None, description="The exact French non-delivery report text."
    )


class CorrespondentOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    kind: PartyKind
    display_name: str


class PatientCorrespondentOut(BaseModel):
    """The patient, as the health actor sees them."""

    model_config = ConfigDict(frozen=True)

    address: str = Field(examples=["279035121518989@patient.mssante.fr"])
    kind: PartyKind = Field(examples=["patient"])
    display_name: str | None = Field(
        examples=["Marie Dupont"],
        description="As identity gave it with the latest message; null if never known.",
    )


class ConversationFields(BaseModel):
    """What both views of a conversation show."""

    model_config = ConfigDict(frozen=True)

    id: str
    subject: str
    state: Literal["open", "closed"] = Field(description="open or closed")
    patient_ins: str
    opened_by: str
    opened_at: datetime
    last_activity_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    close_reason: str | None = Field(description="fin or idle")
    reply_allowed: bool = Field(
        description="Whether the patient may reply in it now: it is open and, in the "
        "patient's own views, their profile is neither closed nor opposed."
    )
    closed_notice: str | None = Field(
        description='"<Nom> a mis fin à vos échanges.", what the patient reads once the health'
        " actor (or its software, for idleness) ended it."
    )


class ConversationView(ConversationFields):
    """A conversation as the patient sees it: the correspondent is the health actor."""

    correspondent: CorrespondentOut


class MailboxConversationView(ConversationFields):
    """A conversation as the health actor's mailbox sees it: the correspondent is the patient."""

    correspondent: PatientCorrespondentOut


class ConversationPageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[ConversationView]
    next_cursor: str | None


class MailboxConversationPageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[MailboxConversationView]
    next_cursor: str | None


class ContactOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    kind: PartyKind
    display_name: str
    conversation_id: str


class ContactsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[ContactOut]
