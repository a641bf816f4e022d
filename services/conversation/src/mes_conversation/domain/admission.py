"""The admission rules: which message is delivered, which bounces, who may start what."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from mes_contracts.fin import is_fin_subject
from mes_contracts.nondelivery import MAX_MESSAGE_SIZE_MO, NonDeliveryReason

from .model import Conversation, DirectoryEntry, PatientResolution, ResolutionStatus

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Admission",
    "Initiation",
    "InvalidSubject",
    "check_subject",
    "conversation_for_message",
    "initiation_by_patient",
    "reply_subject",
]

MAX_MESSAGE_BYTES = MAX_MESSAGE_SIZE_MO * 1024 * 1024
_REPLY_PREFIX = "Re: "

_BOUNCES = {
    ResolutionStatus.NOT_FOUND: NonDeliveryReason.NOT_FOUND,
    ResolutionStatus.CLOSED: NonDeliveryReason.CLOSED,
    ResolutionStatus.INVALID: NonDeliveryReason.INVALID,
}


class InvalidSubject(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def check_subject(subject: str, max_chars: int) -> str:
    """A subject is one header line: a CR or LF in it would let a sender forge mail headers."""
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in subject):
        raise InvalidSubject("invalid_subject", "The subject must not contain control characters.")
    if len(subject) > max_chars:
        raise InvalidSubject(
            "subject_too_long", f"The subject must be at most {max_chars} characters."
        )
    return subject


def reply_subject(conversation_subject: str) -> str:
    """The subject a patient's reply gets by default, without piling up "Re: Re: "."""
    if conversation_subject[: len(_REPLY_PREFIX)].lower() == _REPLY_PREFIX.lower():
        return conversation_subject
    return _REPLY_PREFIX + conversation_subject


@dataclass(frozen=True)
class Admission:
    """What happens to a health actor's message addressed to a patient."""

    bounce_reason: NonDeliveryReason | None
    closes_conversation: bool

    @property
    def accepted(self) -> bool:
        return self.bounce_reason is None

    @classmethod
    def decide(
        cls, resolution: PatientResolution, *, subject: str, fin_header: bool, size_bytes: int
    ) -> Admission:
        """Opposed or unknown → "n'existe pas"; closed → "clôturée"; bad INS → "invalidé";
        too big → refused the same way. A delivered ``[FIN]`` (exactly) or ``X-MSS-MES: FIN``
        ends the conversation it lands in."""
        reason = _BOUNCES.get(resolution.status)
        if reason is None and size_bytes > MAX_MESSAGE_BYTES:
            reason = NonDeliveryReason.TOO_LARGE
        closes = reason is None and (is_fin_subject(subject) or fin_header)
        return cls(bounce_reason=reason, closes_conversation=closes)


def conversation_for_message(
    sender: str,
    patient_ins: str,
    *,
    replied_to: Conversation | None,
    open_with_sender: Conversation | None,
) -> Conversation | None:
    """The conversation a health actor's message joins; None means it starts a new one.

    The conversation of the message it answers, if that is still open between the same two;
    else the open one between them. After a close, the next message starts a new exchange.
    """
    if (
        replied_to is not None
        and replied_to.patient_ins == patient_ins
        and replied_to.accepts_message_from(sender)
    ):
        return replied_to
    if open_with_sender is not None and open_with_sender.accepts_message_from(sender):
        return open_with_sender
    return None


class Initiation(StrEnum):
    """Whether a patient may start a conversation with a health actor, and why (not)."""

    PHARMACY = "pharmacy"
    KNOWN_CORRESPONDENT = "known_correspondent"
    PATIENT_NOT_ACTIVATED = "patient_not_activated"
    PROFILE_INACTIVE = "patient_profile_inactive"
    NOT_ALLOWED = "initiation_not_allowed"

    @property
    def allowed(self) -> bool:
        return self in (Initiation.PHARMACY, Initiation.KNOWN_CORRESPONDENT)


def initiation_by_patient(
    patient: PatientResolution,
    entry: DirectoryEntry | None,
    latest_with_correspondent: Conversation | None,
) -> Initiation:
    """A patient cannot contact the professional of their choice. They may write to a
    pharmacy's organisational mailbox once their profile is activated, even after the pharmacy
    closed an earlier exchange; or to a health actor who wrote to them and whose latest
    exchange with them is still open."""
    if not patient.deliverable:
        return Initiation.PROFILE_INACTIVE
    if entry is not None and entry.is_pharmacy_mailbox:
        return Initiation.PHARMACY if patient.activated else Initiation.PATIENT_NOT_ACTIVATED
    if latest_with_correspondent is not None and latest_with_correspondent.is_open:
        return Initiation.KNOWN_CORRESPONDENT
    return Initiation.NOT_ALLOWED
