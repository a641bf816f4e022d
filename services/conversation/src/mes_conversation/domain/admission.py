"""The admission rules: which message is delivered, which bounces, who may start what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mes_contracts.fin import hidden_character, is_fin_subject
from mes_contracts.nondelivery import MAX_MESSAGE_BYTES, NonDeliveryReason
from mes_platform.names import breaks_a_line

from .model import Conversation, DirectoryEntry, PatientResolution, ResolutionStatus

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Admission",
    "Initiation",
    "InvalidSubject",
    "check_subject",
    "conversation_for_message",
    "has_content",
    "initiation_by_patient",
    "message_size",
    "reply_subject",
]

# The default of the size limit (a setting): 25 Mo of 1,048,576 bytes, 26,214,400 bytes.
_REPLY_PREFIX = "Re: "
_ELLIPSIS = "…"

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
    """A subject is one header line: a CR or LF in it would let a sender forge mail headers,
    and a bidirectional override makes it read differently from what it is (as a name). An
    invisible format character (a zero-width space, a right-to-left mark) would make a subject
    show "[FIN]" while it is not the one that closes."""
    if any(breaks_a_line(c) for c in subject):
        raise InvalidSubject(
            "invalid_subject",
            "The subject must be one line of text, without control or bidirectional override "
            "characters.",
        )
    hidden = hidden_character(subject)
    if hidden is not None:
        raise InvalidSubject(
            "invalid_subject",
            f"The subject must not hold invisible format characters (found U+{ord(hidden):04X}).",
        )
    if len(subject) > max_chars:
        raise InvalidSubject(
            "subject_too_long", f"The subject must be at most {max_chars} characters."
        )
    return subject


def reply_subject(conversation_subject: str, max_chars: int) -> str:
    """The subject a patient's reply gets by default, without piling up "Re: Re: ".

    A derived subject obeys the same limit as a typed one: when the prefix would push it over,
    the end of the original subject gives way to "…".
    """
    if conversation_subject[: len(_REPLY_PREFIX)].lower() == _REPLY_PREFIX.lower():
        derived = conversation_subject
    else:
        derived = _REPLY_PREFIX + conversation_subject
    if len(derived) <= max_chars:
        return derived
    if max_chars <= len(_REPLY_PREFIX) + len(_ELLIPSIS):
        return derived[:max_chars]
    return derived[: max_chars - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def message_size(subject: str, body: str, attachment_sizes: Iterable[int]) -> int:
    """What counts against the size limit: subject and body as UTF-8 bytes, plus every
    attachment's size."""
    return len(subject.encode()) + len(body.encode()) + sum(attachment_sizes)


def has_content(subject: str, body: str, attachment_count: int) -> bool:
    """A message with no subject, no body and no attachment carries nothing (blanks count as
    nothing)."""
    return attachment_count > 0 or bool(subject.strip()) or bool(body.strip())


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
        cls,
        resolution: PatientResolution,
        *,
        subject: str,
        fin_header: bool,
        size_bytes: int,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> Admission:
        """Opposed or unknown → "n'existe pas"; closed → "clôturée"; bad INS → "invalidé";
        over ``max_bytes`` in all (attachments included) → refused the same way. A delivered
        ``[FIN]`` (exactly) or ``X-MSS-MES: FIN`` ends the conversation it lands in (and, but
        for a pharmacy, the whole exchange: :attr:`DirectoryEntry.fin_ends_the_exchange`)."""
        reason = _BOUNCES.get(resolution.status)
        if reason is None and size_bytes > max_bytes:
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
    """Whether a patient may start a conversation with a health actor, and why (not): every
    refusal is the same ``initiation_not_allowed`` to the client, with this as its reason."""

    PHARMACY = "pharmacy"
    KNOWN_CORRESPONDENT = "known_correspondent"
    PATIENT_NOT_ACTIVATED = "patient_not_activated"
    PROFILE_INACTIVE = "patient_profile_inactive"
    RECIPIENT_IS_PATIENT = "recipient_is_patient"
    NOT_ALLOWED = "no_open_exchange"

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
