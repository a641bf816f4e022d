"""Message copies: what a mailbox holds, and how events and reads turn into copies.

A message lives as one copy per mailbox that holds it (the sender's ``sent`` copy, the
recipient's ``inbox`` copy), so each side has its own folder and read flag. Copies made by the
service itself (non-delivery reports, read receipts) get ids derived from the original message
id, so that handling the same fact twice produces the same copy, which storage then ignores.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from mes_contracts.addresses import PATIENT_DOMAIN
from mes_contracts.events.conversation import MessageAccepted, MessageBounced
from mes_contracts.events.parties import AttachmentRef
from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT

from .errors import InvalidCursor
from .identifiers import could_be_id, stored_address

# A read receipt tells the professional, in France, when the patient read: in French time.
PARIS = ZoneInfo("Europe/Paris")

__all__ = [
    "MAILER_DAEMON_ADDRESS",
    "MAILER_DAEMON_NAME",
    "READ_RECEIPT_SUBJECT_PREFIX",
    "Cursor",
    "Folder",
    "MailboxKind",
    "MessageCopy",
    "MessageKind",
    "SentStatus",
    "copies_for_accepted",
    "copies_for_bounced",
    "mailbox_kind",
    "read_receipt_for",
]

MAILER_DAEMON_ADDRESS = f"mailer-daemon@{PATIENT_DOMAIN}"
MAILER_DAEMON_NAME = "Mon espace santé"
READ_RECEIPT_SUBJECT_PREFIX = "Accusé de lecture : "
# Fixed namespace: derived ids must be the same in every replica and every run.
_DERIVED_ID_NAMESPACE = uuid.UUID("6c0b8f3e-5d1a-4f57-9a0e-3b7f6c2d9e41")


class Folder(StrEnum):
    INBOX = "inbox"
    SENT = "sent"


class MessageKind(StrEnum):
    MESSAGE = "message"
    NON_DELIVERY = "non_delivery"
    READ_RECEIPT = "read_receipt"


class SentStatus(StrEnum):
    ACCEPTED = "accepted"
    BOUNCED = "bounced"


class MailboxKind(StrEnum):
    PATIENT = "patient"
    BAL = "bal"


def mailbox_kind(address: str) -> MailboxKind:
    domain = address.rpartition("@")[2].lower()
    return MailboxKind.PATIENT if domain == PATIENT_DOMAIN else MailboxKind.BAL


def derived_message_id(original_id: str, suffix: str) -> str:
    return str(uuid.uuid5(_DERIVED_ID_NAMESPACE, f"{original_id}:{suffix}"))


@dataclass(frozen=True)
class MessageCopy:
    mailbox_address: str
    message_id: str
    folder: Folder
    kind: MessageKind
    conversation_id: str | None
    subject: str
    body: str
    sender_address: str
    sender_display_name: str
    recipient_address: str
    recipient_display_name: str | None
    sent_at: datetime
    delivered_at: datetime
    read_at: datetime | None = None
    read_receipt_requested: bool = False
    in_reply_to: str | None = None
    status: SentStatus | None = None
    bounce_reason: str | None = None
    attachments: tuple[AttachmentRef, ...] = field(default=())

    @property
    def read(self) -> bool:
        # What one sent oneself needs no reading.
        return self.folder is Folder.SENT or self.read_at is not None

    @property
    def wants_receipt_on_first_read(self) -> bool:
        return (
            self.folder is Folder.INBOX
            and self.kind is MessageKind.MESSAGE
            and self.read_receipt_requested
            and self.read_at is None
        )

    def mark_read(self, at: datetime) -> MessageCopy:
        return self if self.read_at is not None else replace(self, read_at=at)


def copies_for_accepted(event: MessageAccepted, delivered_at: datetime) -> list[MessageCopy]:
    """The sender's ``sent`` copy and the recipient's ``inbox`` copy of an admitted message.

    The parties' addresses are already in their one spelling: the contracts' address type
    normalised them when the event was read.
    """
    inbox = MessageCopy(
        mailbox_address=event.recipient.address,
        message_id=event.message_id,
        folder=Folder.INBOX,
        kind=MessageKind.MESSAGE,
        conversation_id=event.conversation_id,
        subject=event.subject,
        body=event.body,
        sender_address=event.sender.address,
        sender_display_name=event.sender.display_name,
        recipient_address=event.recipient.address,
        recipient_display_name=event.recipient.display_name,
        sent_at=event.sent_at,
        delivered_at=delivered_at,
        read_receipt_requested=event.read_receipt_requested,
        in_reply_to=event.in_reply_to,
        attachments=tuple(event.attachments),
    )
    sent = replace(
        inbox, mailbox_address=inbox.sender_address, folder=Folder.SENT, status=SentStatus.ACCEPTED
    )
    return [sent, inbox]


def copies_for_bounced(event: MessageBounced, delivered_at: datetime) -> list[MessageCopy]:
    """The sender's ``sent`` copy marked bounced, and the non-delivery report in its inbox.

    The bounce event carries no body nor conversation: the message never reached one. Its
    sender's address is already in its one spelling (see :func:`copies_for_accepted`); the
    recipient's is as the sender typed it.
    """
    sender = event.sender.address
    recipient = stored_address(event.recipient_address)
    sent = MessageCopy(
        mailbox_address=sender,
        message_id=event.message_id,
        folder=Folder.SENT,
        kind=MessageKind.MESSAGE,
        conversation_id=None,
        subject=event.subject,
        body="",
        sender_address=sender,
        sender_display_name=event.sender.display_name,
        recipient_address=recipient,
        recipient_display_name=None,
        sent_at=event.bounced_at,
        delivered_at=delivered_at,
        status=SentStatus.BOUNCED,
        bounce_reason=event.reason.value,
    )
    report = MessageCopy(
        mailbox_address=sender,
        message_id=derived_message_id(event.message_id, "ndr"),
        folder=Folder.INBOX,
        kind=MessageKind.NON_DELIVERY,
        conversation_id=None,
        subject=NON_DELIVERY_SUBJECT,
        body=event.report_text,
        sender_address=MAILER_DAEMON_ADDRESS,
        sender_display_name=MAILER_DAEMON_NAME,
        recipient_address=sender,
        recipient_display_name=event.sender.display_name,
        sent_at=event.bounced_at,
        delivered_at=delivered_at,
        in_reply_to=event.message_id,
        bounce_reason=event.reason.value,
    )
    return [sent, report]


def read_receipt_for(original: MessageCopy, read_at: datetime) -> MessageCopy:
    """The receipt (accusé de lecture) delivered to the original sender's inbox.

    The patient cannot refuse it (DOMAIN.md): it is made whenever the sender asked.
    """
    reader = original.recipient_display_name or original.recipient_address
    when = read_at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
    body = (
        f"Votre message « {original.subject} » adressé à {reader} "
        f"({original.recipient_address}) a été lu le {when} (heure de Paris) par {reader}."
    )
    return MessageCopy(
        mailbox_address=original.sender_address,
        message_id=derived_message_id(original.message_id, "mdn"),
        folder=Folder.INBOX,
        kind=MessageKind.READ_RECEIPT,
        conversation_id=original.conversation_id,
        subject=READ_RECEIPT_SUBJECT_PREFIX + original.subject,
        body=body,
        sender_address=original.recipient_address,
        sender_display_name=reader,
        recipient_address=original.sender_address,
        recipient_display_name=original.sender_display_name,
        sent_at=read_at,
        delivered_at=read_at,
        in_reply_to=original.message_id,
    )


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the last (sent_at, message_id) of a page, newest first.

    Opaque to callers (url-safe base64 of JSON). Only what :meth:`encode` writes is taken
    back: anything else (undecodable, a date out of range, an id no message can have, or the
    same position spelt another way) is refused rather than silently restarting at the first
    page or reaching storage.
    """

    sent_at: datetime
    message_id: str

    def encode(self) -> str:
        raw = json.dumps(
            [self.sent_at.astimezone(UTC).isoformat(), self.message_id], separators=(",", ":")
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sent_at_text, message_id = json.loads(raw)
            sent_at = datetime.fromisoformat(sent_at_text)
            # Cursors are written in UTC: converting another offset could leave the calendar.
            if sent_at.utcoffset() != timedelta(0):
                raise ValueError("not a UTC position")
            if not isinstance(message_id, str) or not could_be_id(message_id):
                raise ValueError("not a message id")
            cursor = cls(sent_at.astimezone(UTC), message_id)
            if cursor.encode() != token:
                raise ValueError("not written by this service")
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidCursor() from exc
        return cursor
