"""The events the notifier listens to, and the notifications each one queues.

Each handler runs in the consumer's transaction, which also records the event's id: a
notification is queued exactly when its event is handled for the first time, and its id is
derived from the event's, so nothing is queued twice. Sending happens later
(:mod:`.sending`), from the queue, so nothing accepted here is lost if the process dies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
    "app_notification",
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

# What the app's notification centre and a push say: that a message waits, nothing of it.
APP_TITLE = "Nouveau message"
APP_BODY = "Vous avez reçu un nouveau message dans votre messagerie Mon espace santé."
_ALERTED_KINDS = (PartyKind.PHARMACY, PartyKind.ORGANISATION)


def _ins_of(address: str) -> str:
    return address.partition("@")[0]


def _email(event: EventEnvelope, kind: NotificationKind, target: str, **data: Any) -> Notification:
    return Notification(
        id=notification_id(event.id, kind),
        kind=kind,
        channel="email",
        target=target,
        trigger_event_id=event.id,
        created_at=datetime.now(UTC),
        data=data,
    )


async def _accepted(uow: NotifierUnitOfWork, event: EventEnvelope) -> list[Notification]:
    accepted = event.payload_as(MessageAccepted)
    recipient = accepted.recipient
    if recipient.kind is PartyKind.PATIENT:
        ins = _ins_of(recipient.address)
        contact = await uow.repo.contact(ins)
        # Whether the app was notified; null: the profile is not known yet, and the sender
        # decides once it is (the profile comes by another stream, and may come later).
        app = None if contact is None else wants_app_notification(contact)
        queued = [
            _email(
                event,
                NotificationKind.PATIENT_NEW_MESSAGE,
                ins,
                message_id=accepted.message_id,
                app=app,
            )
        ]
        if app:
            queued += await app_notification(uow.repo, event.id, ins, accepted.message_id)
        return queued
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


async def app_notification(
    repo: NotifierRepository, event_id: str, ins: str, message_id: str
) -> list[Notification]:
    """An entry in the app's notification centre, and a push to each of the patient's
    devices; ids derived from the event, so doing it twice adds nothing."""
    now = datetime.now(UTC)
    entry = notification_id(event_id, NotificationKind.PUSH_NEW_MESSAGE, "centre")
    await repo.add_app_notification(entry, ins, message_id, APP_TITLE, APP_BODY, now)
    return [
        Notification(
            id=notification_id(event_id, NotificationKind.PUSH_NEW_MESSAGE, device["id"]),
            kind=NotificationKind.PUSH_NEW_MESSAGE,
            channel="push",
            target=device["id"],
            trigger_event_id=event_id,
            created_at=now,
            data={"ins": ins, "entry": entry, "message_id": message_id},
        )
        for device in await repo.devices_of(ins)
    ]


async def _one(uow: NotifierUnitOfWork, event: EventEnvelope) -> list[Notification]:
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
        return await _accepted(uow, event)
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


async def take(uow: NotifierUnitOfWork, event: EventEnvelope) -> None:
    """Handler of one event, in the consumer's transaction."""
    await take_many(uow, [event])


async def take_many(uow: NotifierUnitOfWork, events: Sequence[EventEnvelope]) -> None:
    """Handler of the events that arrived together, in one transaction."""
    queued: list[Notification] = []
    for event in events:
        queued += await _one(uow, event)
    if queued:
        await uow.repo.add(queued)
        uow.queued()
