"""What the use cases share: idempotent execution and its records, events, input limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from mes_contracts.events.conversation import (
    ConversationClosed,
    ConversationOpened,
    MessageAccepted,
)
from mes_contracts.events.parties import AttachmentRef, Party
from mes_contracts.nondelivery import NonDeliveryReason
from mes_platform.errors import Conflict, DomainError, Unprocessable
from mes_platform.idempotency import StoredResponse, request_fingerprint
from mes_platform.idempotency import run_once as keyed_run_once

from ..domain.admission import MAX_MESSAGE_BYTES, InvalidSubject, check_subject, has_content
from ..domain.model import Conversation
from ..domain.outcomes import Admitted, Bounced, Replayed
from .ports import ConcurrentWrite, ConversationReader, ConversationUnitOfWork

__all__ = [
    "Idempotency",
    "Limits",
    "MessageTooLarge",
    "accepted_event",
    "closed_event",
    "fingerprint_of",
    "opened_event",
    "replayed",
    "run_once",
]


_ATTEMPTS = 3
# The platform's record of a key holds a number beside the answer; here the outcome is all in
# the record's body, so the number is left at zero.
_UNUSED = 0


@dataclass(frozen=True)
class Idempotency:
    key: str
    fingerprint: str


class MessageTooLarge(DomainError):
    """A patient's message over the size limit: refused at once (a health actor's bounces with
    a non-delivery report instead, as mail does)."""

    status = 413
    code = "message_too_large"
    title = "Message too large"


@dataclass(frozen=True)
class Limits:
    max_subject_chars: int = 998
    max_body_chars: int = 200_000
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def check_size(self, size_bytes: int) -> None:
        if size_bytes > self.max_message_bytes:
            raise MessageTooLarge(
                f"The message (subject, text and attachments) is {size_bytes} bytes; the limit"
                f" is {self.max_message_bytes} bytes.",
                size_bytes=size_bytes,
                max_bytes=self.max_message_bytes,
            )

    def check_subject(self, subject: str) -> str:
        try:
            return check_subject(subject, self.max_subject_chars)
        except InvalidSubject as exc:
            raise Unprocessable(exc.detail, code=exc.code) from exc

    @staticmethod
    def check_content(subject: str, body: str, attachment_count: int) -> None:
        """A message must carry something: a subject, a text or an attachment (blanks are
        nothing), whoever writes it."""
        if not has_content(subject, body, attachment_count):
            raise Unprocessable(
                "The message is empty: give it a subject, a text or an attachment.",
                code="empty_message",
            )

    def check_body(self, body: str) -> str:
        if len(body) > self.max_body_chars:
            raise Unprocessable(
                f"The body must be at most {self.max_body_chars} characters.", code="body_too_long"
            )
        return body


def _plain(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def fingerprint_of(kind: str, command: object) -> str:
    """What a replay must repeat exactly for its key to return the first answer."""
    assert dataclasses.is_dataclass(command)
    fields = {f.name: _plain(getattr(command, f.name)) for f in dataclasses.fields(command)}
    recipient = fields.get("recipient")
    if isinstance(recipient, str):
        # Addresses are case-insensitive: the same recipient in other letters is the same
        # request (as the sender's own address is, once the gateway has normalised it).
        fields["recipient"] = recipient.lower()
    return request_fingerprint({"kind": kind, **fields})


def _record(outcome: Admitted | Bounced) -> StoredResponse:
    """The outcome as kept with its Idempotency-Key, in the fields of the admission's answer
    (those the keys stored before outcomes existed hold too)."""
    if isinstance(outcome, Bounced):
        body: dict[str, Any] = {
            "message_id": outcome.message_id,
            "conversation_id": None,
            "status": "bounced",
            "bounce_reason": outcome.reason.value,
            "report_text": outcome.report_text,
        }
    else:
        body = {
            "message_id": outcome.message_id,
            "conversation_id": outcome.conversation_id,
            "status": "accepted",
            "bounce_reason": None,
            "report_text": None,
        }
    return StoredResponse(_UNUSED, body)


def _outcome(stored: StoredResponse) -> Admitted | Bounced:
    body = stored.body
    assert isinstance(body, dict)
    if body["status"] == "bounced":
        return Bounced(
            message_id=body["message_id"],
            reason=NonDeliveryReason(body["bounce_reason"]),
            report_text=body["report_text"],
        )
    return Admitted(message_id=body["message_id"], conversation_id=body["conversation_id"])


async def replayed(
    reader: ConversationReader, scope: str, idempotency: Idempotency | None
) -> Replayed | None:
    """The outcome of an earlier request with this key, checked before any remote call."""
    if idempotency is None:
        return None
    stored = await reader.replayed(scope, idempotency.key, idempotency.fingerprint)
    return Replayed(_outcome(stored)) if stored is not None else None


async def run_once(
    uow_factory: Callable[[], ConversationUnitOfWork],
    scope: str,
    idempotency: Idempotency | None,
    decide: Callable[[ConversationUnitOfWork], Awaitable[Admitted | Bounced]],
) -> Admitted | Bounced | Replayed:
    """Run ``decide`` in one unit of work with its Idempotency-Key stored in the same commit.

    A replay (a key stored meanwhile) answers the stored outcome and changes nothing. A
    concurrent write on the same rows (or the same key) makes the decision run again on fresh
    data.
    """
    # The latest decision and its record: the answer is one of them unless a key stored
    # meanwhile answered instead.
    decided: list[tuple[Admitted | Bounced, StoredResponse]] = []

    async def act(uow: ConversationUnitOfWork) -> StoredResponse:
        outcome = await decide(uow)
        record = _record(outcome)
        decided.append((outcome, record))
        return record

    key, fingerprint = (idempotency.key, idempotency.fingerprint) if idempotency else (None, "")
    answer = await keyed_run_once(
        uow_factory, scope, key, fingerprint, act, retry_on=ConcurrentWrite, attempts=_ATTEMPTS
    )
    if answer is None:
        raise Conflict(
            "The conversation changed while the message was being admitted; retry.",
            code="concurrent_update",
        )
    if decided and answer is decided[-1][1]:
        return decided[-1][0]
    return Replayed(_outcome(answer))


def opened_event(c: Conversation) -> ConversationOpened:
    return ConversationOpened(
        conversation_id=c.id,
        patient_ins=c.patient_ins,
        correspondent=c.correspondent.as_party(),
        opened_by=c.opened_by,
        opened_at=c.opened_at,
        subject=c.subject,
    )


def closed_event(c: Conversation) -> ConversationClosed:
    assert c.closed_by is not None and c.closed_at is not None and c.close_reason is not None
    return ConversationClosed(
        conversation_id=c.id,
        patient_ins=c.patient_ins,
        correspondent=c.correspondent.as_party(),
        closed_by=c.closed_by,
        closed_at=c.closed_at,
        reason=c.close_reason,
    )


def accepted_event(
    *,
    message_id: str,
    conversation: Conversation,
    sender: Party,
    recipient: Party,
    subject: str,
    body: str,
    attachments: tuple[AttachmentRef, ...],
    sent_at: datetime,
    read_receipt: bool = False,
    in_reply_to: str | None = None,
    closes: bool = False,
) -> MessageAccepted:
    return MessageAccepted(
        message_id=message_id,
        conversation_id=conversation.id,
        sender=sender,
        recipient=recipient,
        subject=subject,
        body=body,
        attachments=attachments,
        read_receipt_requested=read_receipt,
        in_reply_to=in_reply_to,
        closes_conversation=closes,
        sent_at=sent_at,
    )
