from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.events.parties import AttachmentRef, PartyKind

from ..domain.model import Conversation

__all__ = [
    "AdmissionOut",
    "ContactOut",
    "ContactsOut",
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


class HealthActorMessageIn(BaseModel):
    """A message from a health actor's mailbox, as the gateway accepted it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

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
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=100)
    read_receipt: bool = False
    in_reply_to: str | None = Field(default=None, max_length=100)
    fin: bool = Field(default=False, description="The X-MSS-MES: FIN header: ends the exchange.")
    sent_by: Literal["professional", "application"] | None = Field(
        default=None,
        description="The token's role: an application sends from an APP mailbox, a "
        "professional from the others (unchecked when absent).",
    )


class PatientReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=100)
    subject: str | None = Field(
        default=None, description='Default: "Re: " + the conversation subject.'
    )


class PatientStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(
        min_length=3, max_length=_ADDRESS, examples=["pharmacie.centrale@officine.mssante.fr"]
    )
    subject: str
    body: str
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=100)


class AdmissionOut(BaseModel):
    message_id: str
    conversation_id: str | None
    status: str = Field(description="accepted or bounced")
    bounce_reason: str | None = Field(
        default=None, description="not_found, closed, invalid or too_large"
    )
    report_text: str | None = Field(
        default=None, description="The exact French non-delivery report text."
    )


class CorrespondentOut(BaseModel):
    address: str
    kind: PartyKind
    display_name: str


class PatientCorrespondentOut(BaseModel):
    """The patient, as the health actor sees them."""

    address: str = Field(examples=["279035121518989@patient.mssante.fr"])
    kind: PartyKind = Field(examples=["patient"])
    display_name: str | None = Field(
        examples=["Marie Dupont"],
        description="As identity gave it with the latest message; null if never known.",
    )


class _ConversationFields(BaseModel):
    id: str
    subject: str
    state: str = Field(description="open or closed")
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

    @staticmethod
    def _fields(c: Conversation, patient_may_write: bool = True) -> dict[str, object]:
        return {
            "id": c.id,
            "subject": c.subject,
            "state": c.state.value,
            "patient_ins": c.patient_ins,
            "opened_by": c.opened_by,
            "opened_at": c.opened_at,
            "last_activity_at": c.last_activity_at,
            "closed_by": c.closed_by,
            "closed_at": c.closed_at,
            "close_reason": c.close_reason.value if c.close_reason else None,
            "reply_allowed": patient_may_write and c.accepts_reply_from_patient(),
            "closed_notice": c.closed_notice,
        }


class ConversationView(_ConversationFields):
    """A conversation as the patient sees it: the correspondent is the health actor."""

    correspondent: CorrespondentOut

    @classmethod
    def of(cls, c: Conversation, *, patient_may_write: bool = True) -> ConversationView:
        """``patient_may_write``: false when the patient's profile refuses every reply."""
        correspondent = CorrespondentOut(
            address=c.correspondent.address,
            kind=c.correspondent.kind,
            display_name=c.correspondent.display_name,
        )
        fields = cls._fields(c, patient_may_write)
        return cls.model_validate({**fields, "correspondent": correspondent})


class MailboxConversationView(_ConversationFields):
    """A conversation as the health actor's mailbox sees it: the correspondent is the patient."""

    correspondent: PatientCorrespondentOut

    @classmethod
    def of(cls, c: Conversation) -> MailboxConversationView:
        correspondent = PatientCorrespondentOut(
            address=c.patient_address, kind=PartyKind.PATIENT, display_name=c.patient_display_name
        )
        return cls.model_validate({**cls._fields(c), "correspondent": correspondent})


class ConversationPageOut(BaseModel):
    items: list[ConversationView]
    next_cursor: str | None


class MailboxConversationPageOut(BaseModel):
    items: list[MailboxConversationView]
    next_cursor: str | None


class ContactOut(BaseModel):
    address: str
    kind: PartyKind
    display_name: str
    conversation_id: str


class ContactsOut(BaseModel):
    items: list[ContactOut]
