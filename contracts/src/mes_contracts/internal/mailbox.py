"""The mailbox service's calls (by the gateway).

- ``POST /internal/attachments`` (multipart: ``file``, ``owner``) stores an attachment and
  answers its :class:`~mes_contracts.events.parties.AttachmentRef` (201).
- ``POST /internal/attachments/resolve`` with :class:`AttachmentsResolveIn` answers
  :class:`AttachmentsResolveOut`: the references of a message's attachments, checked.
- ``GET /internal/mailboxes/{address}/messages`` answers a :class:`MessagePageOut`;
  ``POST .../messages/{id}/open`` a :class:`MessageOut` (marked read); ``POST .../read`` a
  :class:`ReadOut`; ``GET .../unread-counts`` an :class:`UnreadCountsOut`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.events.parties import AttachmentRef

__all__ = [
    "MAX_ATTACHMENTS_RESOLVED",
    "AttachmentsResolveIn",
    "AttachmentsResolveOut",
    "FolderName",
    "MessageKindName",
    "MessageOut",
    "MessagePageOut",
    "MessageSummaryOut",
    "ReadOut",
    "SenderOut",
    "SentStatusName",
    "UnreadCountsOut",
]

MAX_ATTACHMENTS_RESOLVED = 100

FolderName = Literal["inbox", "sent"]
MessageKindName = Literal["message", "non_delivery", "read_receipt"]
SentStatusName = Literal["accepted", "bounced"]


class AttachmentsResolveIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str = Field(min_length=3, max_length=320, description="address of the sender")
    ids: list[str] = Field(
        max_length=MAX_ATTACHMENTS_RESOLVED, description="attachment ids the message carries"
    )


class AttachmentsResolveOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[AttachmentRef] = Field(
        description="the attachments asked for, in that order (each once), with their sizes"
    )
    total_bytes: int = Field(description="the sum of their sizes")


class SenderOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    display_name: str


class MessageSummaryOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    conversation_id: str | None
    folder: FolderName
    kind: MessageKindName
    subject: str
    sender: SenderOut
    recipient_address: str
    sent_at: datetime
    read: bool = Field(description="Whether the owner opened it; always true in sent")
    read_at: datetime | None = Field(
        description="When the owner first opened it; null in sent (the recipient's reading "
        "comes as a read receipt)"
    )
    status: SentStatusName | None = Field(description="accepted or bounced, for sent copies")
    bounce_reason: str | None
    attachments: list[AttachmentRef]


class MessageOut(MessageSummaryOut):
    body: str
    in_reply_to: str | None
    read_receipt_requested: bool


class MessagePageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[MessageSummaryOut]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


class ReadOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    read_at: datetime


class UnreadCountsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int
    by_conversation: dict[str, int] = Field(
        description='unread inbox messages per conversation id; "" for those outside one'
    )
