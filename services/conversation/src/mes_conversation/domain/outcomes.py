"""What became of a message offered for admission: the use cases' answers, in the domain's
words (how each reaches the caller is the entrypoints' business)."""

from __future__ import annotations

from dataclasses import dataclass

from mes_contracts.nondelivery import NonDeliveryReason

__all__ = ["Admitted", "Bounced", "Outcome", "Replayed", "first_outcome"]


@dataclass(frozen=True)
class Admitted:
    """Accepted into ``conversation_id`` (opened for it or not): recorded with its event, so
    its delivery follows whatever restarts meanwhile."""

    message_id: str
    conversation_id: str


@dataclass(frozen=True)
class Bounced:
    """Not deliverable: recorded, and ``report_text`` (the exact French non-delivery report)
    goes back to the sender's mailbox."""

    message_id: str
    reason: NonDeliveryReason
    report_text: str


@dataclass(frozen=True)
class Replayed:
    """The same Idempotency-Key again: the first outcome, and nothing done a second time."""

    first: Admitted | Bounced


Outcome = Admitted | Bounced | Replayed


def first_outcome(outcome: Outcome) -> Admitted | Bounced:
    """What happened to the message, replayed or not."""
    return outcome.first if isinstance(outcome, Replayed) else outcome
