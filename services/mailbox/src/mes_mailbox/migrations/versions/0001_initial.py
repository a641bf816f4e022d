"""Mailboxes, message copies, attachments, and the platform tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_UNREAD = "folder = 'inbox' AND read_at IS NULL"


def upgrade() -> None:
    create_platform_tables(op)
    op.create_table(
        "mailboxes",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("mailbox_address", sa.String(320), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("folder", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sender_address", sa.String(320), nullable=False),
        sa.Column("sender_display_name", sa.String(200), nullable=False),
        sa.Column("recipient_address", sa.String(320), nullable=False),
        sa.Column("recipient_display_name", sa.String(200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_receipt_requested", sa.Boolean, nullable=False),
        sa.Column("in_reply_to", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("bounce_reason", sa.String(32), nullable=True),
    )
    op.create_index(
        "ix_messages_folder_page",
        "messages",
        ["mailbox_address", "folder", sa.text("sent_at DESC"), sa.text("message_id DESC")],
    )
    op.create_index(
        "ix_messages_conversation_page",
        "messages",
        ["mailbox_address", "conversation_id", sa.text("sent_at DESC"), sa.text("message_id DESC")],
    )
    op.create_index(
        "ix_messages_unread",
        "messages",
        ["mailbox_address", "conversation_id"],
        sqlite_where=sa.text(_UNREAD),
        postgresql_where=sa.text(_UNREAD),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("uploaded_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])
    op.create_table(
        "message_attachments",
        sa.Column("mailbox_address", sa.String(320), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column(
            "attachment_id", sa.String(36), sa.ForeignKey("attachments.id"), primary_key=True
        ),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_message_attachments_holder", "message_attachments", ["attachment_id", "mailbox_address"]
    )


def downgrade() -> None:
    op.drop_table("message_attachments")
    op.drop_table("attachments")
    op.drop_table("messages")
    op.drop_table("mailboxes")
