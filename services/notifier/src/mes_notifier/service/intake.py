"""The events the notifier listens to, and the notifications each one queues.

Each handler runs in the consumer's transaction, which also records the event's id: a
notification is queued exactly when its event is handled for the first time, and its id is
derived from the event's, so nothing is queued twice. Sending starts once that transaction
has committed (:mod:`.sending`): the notification is in the queue first, so nothing accepted
here is lost if the process dies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted, MessageBounced
from mes_contracts.events.directory import MailboxRegistered
from mes_contracts.events.identity import (
    PatientActivated,
    PatientClosed,
    PatientCreated,
    PatientOpposed,
    PatientProfileChanged,
    PatientUpdated,
)
from mes_contracts.events.mailbox import MessageRead
from mes_contracts.events.parties import PartyKind
from mes_contracts.internal.notifier import NotificationKind

from ..domain.notifications import (
    Notification,
    PatientContact,
    notification_id,
    wants_app_notification,
)
from .ports import NotifierRepository, NotifierUnitOfWork

__all__ = [
    "APP_BODY",
    "APP_TITLE",
    "CONVERSATION_SUBJECTS",
    "DIRECTORY_SUBJECTS",
    "IDENTITY_SUBJECTS",
    "MAILBOX_SUBJECTS",
    "AppNotice",
    "Claim",
    "app_notifications",
    "take",
    "take_many",
]

log = logging.getLogger(__name__)

IDENTITY_SUBJECTS = tuple(
    c.SUBJECT
    for c in (PatientCreated, PatientUpdated, PatientActivated, PatientOpposed, PatientClosed)
)
DIRECTORY_SUBJECTS = (MailboxRegistered.SUBJECT,)
CONVERSATION_SUBJECTS = (MessageAccepted.SUBJECT, MessageBounced.SUBJECT)
MAILBOX_SUBJECTS = (MessageRead.SUBJECT,)

# Queues notifications in the intake's transaction, claimed for this process's sender
# (``NotificationSender.claim_new``), with the patients' profiles that transaction read if any.
Claim = Callable[
    [NotifierUnitOfWork, Sequence[Notification], Mapping[str, PatientContact] | None],
    Awaitable[None],
]

# What the app's notification centre and a push say: that a message waits, nothing of it.
APP_TITLE = "Nouveau message"
APP_BODY = "Vous avez reçu un nouveau message dans votre messagerie Mon espace santé."
_ALERTED_KINDS = (PartyKind.PHARMACY, PartyKind.ORGANISATION)


def _ins_of(address: str) -> str:
    return address.partition("@")[0]


def _email(event: EventEnvelope, kind: NotificationKind, target: str, **data: Any) -> Notification:
    return Notification(
        id=notification_id(event.id, kind, at=event.occurred_at),
        kind=kind,
        channel="email",
        target=target,
        trigger_event_id=event.id,
        created_at=datetime.now(UTC),
        data=data,
    )


@dataclass(slots=True)
class _Batch:
    """What the events handled together need from the database, asked once for all: the
    patients' profiles, and the app notifications to write at the end."""

    contacts: dict[str, PatientContact] | None = None  # None: ask per event
    accepted: dict[str, MessageAccepted] = field(default_factory=dict)  # by event id
    app: list[AppNotice] = field(default_factory=list)


async def _contact(uow: NotifierUnitOfWork, batch: _Batch, ins: str) -> PatientContact | None:
    if batch.contacts is not None:
        return batch.contacts.get(ins)
    return await uow.repo.contact(ins)


async def _accepted(
    uow: NotifierUnitOfWork, batch: _Batch, event: EventEnvelope
) -> list[Notification]:
    accepted = batch.accepted.get(event.id) or event.payload_as(MessageAccepted)
    recipient = accepted.recipient
    if recipient.kind is PartyKind.PATIENT:
        ins = _ins_of(recipient.address)
        contact = await _contact(uow, batch, ins)
        # Whether the app was notified; null: the profile is not known yet, and the sender
        # decides once it is (the profile comes by another stream, and may come later).
        app = None if contact is None else wants_app_notification(contact)
        if app:
            batch.app.append(AppNotice(event.id, event.occurred_at, ins, accepted.message_id))
        return [
            _email(
                event,
                NotificationKind.PATIENT_NEW_MESSAGE,
                ins,
                message_id=accepted.message_id,
                app=app,
            )
        ]
    if recipient.kind in _ALERTED_KINDS:
        return [
            _email(
                event,
                NotificationKind.PHARMACY_ALERT,
                recipient.address,
                message_id=accepted.message_id,
            )
        ]
    return []


@dataclass(frozen=True, slots=True)
class AppNotice:
    """A new message for the app of a patient who has it: an entry in its notification
    centre and a push to each device."""

    event_id: str
    at: datetime  # orders the ids: the event's time (its notification's when late)
    ins: str
    message_id: str


async def app_notifications(
    repo: NotifierRepository, notices: Sequence[AppNotice]
) -> list[Notification]:
    """The entries in the apps' notification centres, and the pushes to each of the
    patients' devices, for all ``notices`` at once; ids derived from the events, so doing it
    twice adds nothing."""
    if not notices:
        return []
    now = datetime.now(UTC)
    entries = [
        (notification_id(n.event_id, NotificationKind.PUSH_NEW_MESSAGE, "centre", at=n.at), n)
        for n in notices
    ]
    await repo.add_app_notifications(
        [(entry, n.ins, n.message_id, APP_TITLE, APP_BODY, now) for entry, n in entries]
    )
    devices = await repo.devices_of_many({n.ins for n in notices})
    return [
        Notification(
            id=notification_id(
                n.event_id, NotificationKind.PUSH_NEW_MESSAGE, device["id"], at=n.at
            ),
            kind=NotificationKind.PUSH_NEW_MESSAGE,
            channel="push",
            target=device["id"],
            trigger_event_id=n.event_id,
            created_at=now,
            data={"ins": n.ins, "entry": entry, "message_id": n.message_id},
        )
        for entry, n in entries
        for device in devices.get(n.ins, [])
    ]


async def _one(uow: NotifierUnitOfWork, batch: _Batch, event: EventEnvelope) -> list[Notification]:
    if event.type in IDENTITY_SUBJECTS:
        profile = event.parse_payload()
        assert isinstance(profile, PatientProfileChanged)
        await uow.repo.save_contact(
            PatientContact(
                ins=str(profile.ins),
                state=profile.state,
                email=profile.email,
                app_installed=profile.app_installed,
                changed_at=event.occurred_at,
            )
        )
        return []
    if event.type == MailboxRegistered.SUBJECT:
        entry = event.payload_as(MailboxRegistered)
        await uow.repo.save_mailbox(str(entry.address), entry.type.value, entry.alert_email)
        return []
    if event.type == MessageAccepted.SUBJECT:
        return await _accepted(uow, batch, event)
    if event.type == MessageBounced.SUBJECT:
        bounced = event.payload_as(MessageBounced)
        return [
            _email(
                event,
                NotificationKind.NON_DELIVERY,
                str(bounced.sender.address),
                message_id=bounced.message_id,
                recipient_address=bounced.recipient_address,
                reason=bounced.reason.value,
                report_text=bounced.report_text,
                bounced_at=bounced.bounced_at.isoformat(),
            )
        ]
    if event.type == MessageRead.SUBJECT:
        read = event.payload_as(MessageRead)
        if not read.read_receipt_requested:
            return []
        return [
            _email(
                event,
                NotificationKind.READ_RECEIPT,
                str(read.original_sender_address),
                message_id=read.message_id,
                reader=str(read.mailbox_address),
                read_at=read.read_at.isoformat(),
            )
        ]
    log.info("event ignored", extra={"event_id": event.id, "type": event.type})
    return []


async def take(uow: NotifierUnitOfWork, event: EventEnvelope, claim: Claim | None = None) -> None:
    """Handler of one event, in the consumer's transaction."""
    await take_many(uow, [event], claim)


async def take_many(
    uow: NotifierUnitOfWork, events: Sequence[EventEnvelope], claim: Claim | None = None
) -> None:
    """Handler of the events that arrived together, in one transaction: the profiles they
    need are read in one query (unless a profile changes among them: then each is read when
    its event comes), and their notifications written in one statement; with ``claim``,
    written claimed by this process's sender, which gets them when the transaction commits."""
    batch = _Batch()
    batch.accepted = {
        event.id: event.payload_as(MessageAccepted)
        for event in events
        if event.type == MessageAccepted.SUBJECT
    }
    if not any(event.type in IDENTITY_SUBJECTS for event in events):
        patients = {
            _ins_of(accepted.recipient.address)
            for accepted in batch.accepted.values()
            if accepted.recipient.kind is PartyKind.PATIENT
        }
        batch.contacts = await uow.repo.contacts(patients) if patients else {}
    queued: list[Notification] = []
    for event in events:
        queued += await _one(uow, batch, event)
    queued += await app_notifications(uow.repo, batch.app)
    if not queued:
        return
    if claim is not None:
        await claim(uow, queued, batch.contacts)
    else:
        await uow.repo.add(queued)
        uow.queued()
