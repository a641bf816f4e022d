from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

__all__ = [
    "attachments",
    "documents",
    "mailboxes",
    "message_attachments",
    "messages",
    "metadata",
]

metadata = MetaData()

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (mailbox, message): each side keeps its own folder and read flag.
messages = Table(
    "messages",
    metadata,
    Column("mailbox_address", String(320), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("folder", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("conversation_id", String(64), nullable=True),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("sender_address", String(320), nullable=False),
    Column("sender_display_name", String(200), nullable=False),
    Column("recipient_address", String(320), nullable=False),
    Column("recipient_display_name", String(200), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    Column("read_receipt_requested", Boolean, nullable=False),
    Column("in_reply_to", String(64), nullable=True),
    Column("status", String(16), nullable=True),
    Column("bounce_reason", String(32), nullable=True),
    # A folder page is one index range scan, newest first (keyset on sent_at, message_id).
    Index(
        "ix_messages_folder_page",
        "mailbox_address",
        "folder",
        text("sent_at DESC"),
        text("message_id DESC"),
    ),
    Index(
        "ix_messages_conversation_page",
        "mailbox_address",
        "conversation_id",
        text("sent_at DESC"),
        text("message_id DESC"),
    ),
    # Unread counts read only unread inbox rows: a partial index keeps it small.
    Index(
        "ix_messages_unread",
        "mailbox_address",
        "conversation_id",
        sqlite_where=text("folder = 'inbox' AND read_at IS NULL"),
        postgresql_where=text("folder = 'inbox' AND read_at IS NULL"),
    ),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("uploaded_by", String(320), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

message_attachments = Table(
    "message_attachments",
    metadata,
    Column("mailbox_address", String(320), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("attachment_id", String(36), ForeignKey("attachments.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    # "may this mailbox see this attachment?" is asked by attachment, not by message.
    Index("ix_message_attachments_holder", "attachment_id", "mailbox_address"),
)

# A patient's documents; the bytes are the blob store's, shared with any attachment of the same
# content (an attachment copied from a document stays whole when the document goes).
documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(320), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A page of documents is one index range scan, newest first (keyset on created_at, id).
    Index("ix_documents_page", "owner", text("created_at DESC"), text("id DESC")),
)
