"""The mailbox's answers built from its domain: the models are the shared ones of
:mod:`mes_contracts.internal.mailbox`; only how a stored copy fills them lives here."""

from __future__ import annotations

from typing import Any

from mes_contracts.internal.mailbox import MessageOut, MessageSummaryOut, SenderOut

from ..domain.messages import MessageCopy

__all__ = ["message_of", "summary_of"]


def _summary_fields(c: MessageCopy) -> dict[str, Any]:
    return {
        "id": c.message_id,
        "conversation_id": c.conversation_id,
        "folder": c.folder.value,
        "kind": c.kind.value,
        "subject": c.subject,
        "sender": SenderOut(address=c.sender_address, display_name=c.sender_display_name),
        "recipient_address": c.recipient_address,
        "sent_at": c.sent_at,
        "read": c.read,
        "read_at": c.read_at,
        "status": c.status.value if c.status is not None else None,
        "bounce_reason": c.bounce_reason,
        "attachments": list(c.attachments),
    }


def summary_of(c: MessageCopy) -> MessageSummaryOut:
    return MessageSummaryOut(**_summary_fields(c))


def message_of(c: MessageCopy) -> MessageOut:
    return MessageOut(
        **_summary_fields(c),
        body=c.body,
        in_reply_to=c.in_reply_to,
        read_receipt_requested=c.read_receipt_requested,
    )
