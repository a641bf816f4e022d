from __future__ import annotations

from datetime import datetime

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


class ConversationView(BaseModel):
    id: str
    subject: str
    state: str = Field(description="open or closed")
    correspondent: CorrespondentOut
    patient_ins: str
    opened_by: str
    opened_at: datetime
    last_activity_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    close_reason: str | None = Field(description="fin or idle")
    reply_allowed: bool
    closed_notice: str | None = Field(
        description='"<Nom> a mis fin à vos échanges." when the health actor ended it.'
    )

    @classmethod
    def of(cls, c: Conversation) -> ConversationView:
        return cls(
            id=c.id,
            subject=c.subject,
            state=c.state.value,
            correspondent=CorrespondentOut(
                address=c.correspondent.address,
                kind=c.correspondent.kind,
                display_name=c.correspondent.display_name,
            ),
            patient_ins=c.patient_ins,
            opened_by=c.opened_by,
            opened_at=c.opened_at,
            last_activity_at=c.last_activity_at,
            closed_by=c.closed_by,
            closed_at=c.closed_at,
            close_reason=c.close_reason.value if c.close_reason else None,
            reply_allowed=c.accepts_reply_from_patient(),
            closed_notice=c.closed_notice,
        )


class ConversationPageOut(BaseModel):
    items: list[ConversationView]
    next_cursor: str | None


class ContactOut(BaseModel):
    address: str
    kind: PartyKind
    display_name: str
    conversation_id: str


class ContactsOut(BaseModel):
    items: list[ContactOut]
