"""Notifications: what each event causes, to whom, and how a sending attempt ends.

Pure rules, no I/O. A notification is keyed by the event that caused it (and, for a push, the
device), so an event handled twice queues nothing more; its state moves from ``queued`` to
``sent``, ``retrying``, ``failed`` (permanently) or ``not_notifiable``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mes_contracts.events.identity import PatientState
from mes_contracts.internal.notifier import NotificationKind, NotificationState

__all__ = [
    "EMAIL_KINDS",
    "FINAL_STATES",
    "Notification",
    "PatientContact",
    "SendOutcome",
    "next_attempt_delay",
    "notification_id",
    "wants_app_notification",
]

EMAIL_KINDS = frozenset(
    {
        NotificationKind.PATIENT_NEW_MESSAGE,
        NotificationKind.READ_RECEIPT,
        NotificationKind.NON_DELIVERY,
        NotificationKind.PHARMACY_ALERT,
    }
)
FINAL_STATES = frozenset(
    {NotificationState.SENT, NotificationState.FAILED, NotificationState.NOT_NOTIFIABLE}
)


def notification_id(event_id: str, kind: NotificationKind, extra: str = "", *, at: datetime) -> str:
    """The notification's id, derived from what caused it: the same event gives the same id.

    ``at``, the event's time, comes first (milliseconds, in hexadecimal): the ids of new
    notifications follow each other, so a new row's key goes at the end of the primary key's
    index instead of anywhere in it (each commit then writes a few index pages, not one per
    row)."""
    digest = hashlib.sha256(f"{event_id}|{kind.value}|{extra}".encode()).hexdigest()
    return f"ntf-{int(at.timestamp() * 1000):012x}{digest[:24]}"


@dataclass(frozen=True, slots=True)
class PatientContact:
    """What the notifier keeps of a patient profile: enough to choose channels."""

    ins: str
    state: PatientState
    email: str | None
    app_installed: bool
    changed_at: datetime


def wants_app_notification(contact: PatientContact | None) -> bool:
    """The app's notification centre (and push) only for an activated profile whose app is
    installed; the e-mail goes in every case."""
    return contact is not None and contact.state is PatientState.ACTIVATED and contact.app_installed


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification to send. ``target`` is whom it is for (an INS, an MSSanté address, a
    device id); ``data`` holds what rendering needs, never a subject, body or attachment."""

    id: str
    kind: NotificationKind
    channel: str  # "email" or "push"
    target: str
    trigger_event_id: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    recipient: str | None = None
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """How one attempt ended, for the record."""

    state: NotificationState
    error: str | None = None
    recipient: str | None = None


def next_attempt_delay(attempts: int, *, first: float, cap: float) -> timedelta:
    """Exponential backoff between attempts of a notification kept in the queue."""
    return timedelta(seconds=min(cap, first * 2 ** max(0, attempts - 1)))
