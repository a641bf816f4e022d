"""Conversations between a patient and a health actor, and who may still write in them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mes_contracts.addresses import MailboxType, MssanteAddress, PatientAddress
from mes_contracts.events.conversation import ConversationCloseReason
from mes_contracts.events.identity import PatientState
from mes_contracts.events.parties import Party, PartyKind
from mes_contracts.ids import new_id

__all__ = [
    "Conversation",
    "ConversationAlreadyClosed",
    "ConversationState",
    "Correspondent",
    "DirectoryEntry",
    "PatientResolution",
    "ResolutionStatus",
    "actor_address",
    "closed_notice_for",
]


def actor_address(value: str) -> str:
    """A health actor's address in its one stored form, as the directory keeps it: lower case
    (mail servers of the trust space treat local parts case-insensitively). Raises AddressError.
    """
    return MssanteAddress.parse(value.strip()).format().lower()


class ConversationState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ResolutionStatus(StrEnum):
    """Identity's answer to "may a message go to this patient address?"."""

    DELIVERABLE = "deliverable"
    NOT_FOUND = "not_found"
    CLOSED = "closed"
    INVALID = "invalid"


@dataclass(frozen=True)
class PatientResolution:
    address: str
    status: ResolutionStatus
    ins: str | None = None
    display_name: str | None = None
    state: PatientState | None = None

    @property
    def deliverable(self) -> bool:
        return self.status is ResolutionStatus.DELIVERABLE

    @property
    def activated(self) -> bool:
        return self.deliverable and self.state is PatientState.ACTIVATED


@dataclass(frozen=True)
class DirectoryEntry:
    """A health actor's mailbox (BAL) as the directory knows it."""

    address: str
    type: MailboxType
    display_name: str
    pharmacy: bool = False

    @property
    def party_kind(self) -> PartyKind:
        if self.type is MailboxType.APP:
            return PartyKind.APPLICATION
        if self.type is MailboxType.ORG:
            return PartyKind.PHARMACY if self.pharmacy else PartyKind.ORGANISATION
        return PartyKind.PROFESSIONAL  # PER and CAB: professionals and their practice

    @property
    def is_pharmacy_mailbox(self) -> bool:
        """Patients may write to a pharmacy only through its organisational mailbox."""
        return self.type is MailboxType.ORG and self.pharmacy

    @property
    def fin_ends_the_exchange(self) -> bool:
        """A pharmacy's ``[FIN]`` closes only the conversation it lands in: the patient may
        always write to the pharmacy again. Any other health actor's ends the whole exchange
        with the patient, until it writes again."""
        return not self.is_pharmacy_mailbox

    def as_correspondent(self) -> Correspondent:
        return Correspondent(self.address, self.party_kind, self.display_name)


@dataclass(frozen=True)
class Correspondent:
    """The health actor on the other side of a patient's conversation."""

    address: str
    kind: PartyKind
    display_name: str

    def as_party(self) -> Party:
        return Party(address=self.address, kind=self.kind, display_name=self.display_name)


class ConversationAlreadyClosed(Exception):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(f"conversation {conversation.id} is closed")
        self.conversation = conversation


@dataclass
class Conversation:
    id: str
    patient_ins: str
    correspondent: Correspondent
    subject: str
    opened_by: str
    opened_at: datetime
    last_activity_at: datetime
    state: ConversationState = ConversationState.OPEN
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_reason: ConversationCloseReason | None = None
    # The patient's name as identity last gave it, shown to the health actor (None: unknown).
    patient_display_name: str | None = None

    @classmethod
    def open_by(
        cls,
        opener: str,
        *,
        patient_ins: str,
        correspondent: Correspondent,
        subject: str,
        at: datetime,
        patient_display_name: str | None = None,
    ) -> Conversation:
        """A first message starts a conversation: a health actor's, or a patient's where allowed."""
        return cls(
            id=new_id(),
            patient_ins=patient_ins,
            correspondent=correspondent,
            subject=subject,
            opened_by=opener,
            opened_at=at,
            last_activity_at=at,
            patient_display_name=patient_display_name,
        )

    @property
    def patient_address(self) -> str:
        return PatientAddress(self.patient_ins).format()

    @property
    def is_open(self) -> bool:
        return self.state is ConversationState.OPEN

    def accepts_reply_from_patient(self) -> bool:
        """Once the health actor ended the exchange, the patient can no longer reply in it."""
        return self.is_open

    def accepts_message_from(self, sender: str) -> bool:
        """A health actor's message joins this conversation only if it is theirs and still open."""
        return self.is_open and self.correspondent.address == sender

    def record_message(self, at: datetime, patient_display_name: str | None = None) -> None:
        """A message joined the conversation; identity's latest name for the patient is kept."""
        self.last_activity_at = max(self.last_activity_at, at)
        if patient_display_name:
            self.patient_display_name = patient_display_name

    def close_by(
        self,
        closer: str,
        at: datetime,
        reason: ConversationCloseReason = ConversationCloseReason.FIN,
    ) -> None:
        """The health actor (or its software, for idleness) ends the exchange."""
        if not self.is_open:
            raise ConversationAlreadyClosed(self)
        self.state = ConversationState.CLOSED
        self.closed_by = closer
        self.closed_at = at
        self.close_reason = reason

    def is_idle_since(self, cutoff: datetime) -> bool:
        return self.is_open and self.last_activity_at < cutoff

    @property
    def closed_notice(self) -> str | None:
        """What the patient reads on a conversation the health actor ended: by ``[FIN]``, or
        by its software after a period without activity (on its behalf: the same notice)."""
        if not self.is_open:
            return closed_notice_for(self.correspondent.display_name)
        return None


def closed_notice_for(display_name: str) -> str:
    return f"{display_name} a mis fin à vos échanges."
