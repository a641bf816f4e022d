"""Conversations, the message admission log, and the platform tables.

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


def upgrade() -> None:
    create_platform_tables(op)
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient_ins", sa.String(15), nullable=False),
        sa.Column("correspondent_address", sa.String(320), nullable=False),
        sa.Column("correspondent_kind", sa.String(20), nullable=False),
        sa.Column("correspondent_display_name", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("opened_by", sa.String(320), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(320), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(10), nullable=True),
    )
    op.create_index(
        "ix_conversations_pair", "conversations", ["patient_ins", "correspondent_address", "state"]
    )
    op.create_index(
        "ix_conversations_patient_activity",
        "conversations",
        ["patient_ins", "last_activity_at", "id"],
    )
    op.create_index(
        "ix_conversations_correspondent_activity",
        "conversations",
        ["correspondent_address", "last_activity_at", "id"],
    )
    op.create_index(
        "ix_conversations_state_activity", "conversations", ["state", "last_activity_at"]
    )
    op.create_table(
        "messages",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("conversation_id", sa.String(36), nullable=True),
        sa.Column("sender_address", sa.String(320), nullable=False),
        sa.Column("recipient_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("bounce_reason", sa.String(20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("conversations")
