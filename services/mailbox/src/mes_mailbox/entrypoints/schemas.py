from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.events.parties import AttachmentRef

from ..domain.messages import Folder, MessageCopy, MessageKind, SentStatus

__all__ = [
    "MessageOut",
    "MessagePage",
    "MessageSummary",
    "ReadOut",
    "ResolveIn",
    "ResolveOut",
    "SenderOut",
    "UnreadCountsOut",
]


class SenderOut(BaseModel):
    address: str
    display_name: str


class MessageSummary(BaseModel):
    id: str
    conversation_id: str | None
    folder: Folder
    kind: MessageKind
    subject: str
    sender: SenderOut
    recipient_address: str
    sent_at: datetime
    read: bool = Field(description="Whether the owner opened it; always true in sent")
    read_at: datetime | None = Field(
        description="When the owner first opened it; null in sent (the recipient's reading "
        "comes as a read receipt)"
    )
    status: SentStatus | None = Field(description="accepted or bounced, for sent copies")
    bounce_reason: str | None
    attachments: list[AttachmentRef]

    @classmethod
    def of(cls, c: MessageCopy) -> MessageSummary:
        return cls(**_summary_fields(c))


class MessageOut(MessageSummary):
    body: str
    in_reply_to: str | None
    read_receipt_requested: bool

    @classmethod
    def of(cls, c: MessageCopy) -> MessageOut:
        return cls(
            **_summary_fields(c),
            body=c.body,
            in_reply_to=c.in_reply_to,
            read_receipt_requested=c.read_receipt_requested,
        )


def _summary_fields(c: MessageCopy) -> dict[str, object]:
    return {
        "id": c.message_id,
        "conversation_id": c.conversation_id,
        "folder": c.folder,
        "kind": c.kind,
        "subject": c.subject,
        "sender": SenderOut(address=c.sender_address, display_name=c.sender_display_name),
        "recipient_address": c.recipient_address,
        "sent_at": c.sent_at,
        "read": c.read,
        "read_at": c.read_at,
        "status": c.status,
        "bounce_reason": c.bounce_reason,
        "attachments": list(c.attachments),
    }


class MessagePage(BaseModel):
    items: list[MessageSummary]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


class ReadOut(BaseModel):
    read_at: datetime


class UnreadCountsOut(BaseModel):
    total: int
    by_conversation: dict[str, int] = Field(
        description='unread inbox messages per conversation id; "" for those outside one'
    )


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=3, max_length=320, description="address of the sender")
    ids: list[str] = Field(max_length=100, description="attachment ids the message carries")


class ResolveOut(BaseModel):
    items: list[AttachmentRef] = Field(
        description="the attachments asked for, in that order (each once), with their sizes"
    )
    total_bytes: int = Field(description="the sum of their sizes")
