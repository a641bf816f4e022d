from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text

__all__ = ["conversations", "messages", "metadata"]

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("patient_ins", String(15), nullable=False),
    Column("correspondent_address", String(320), nullable=False),
    Column("correspondent_kind", String(20), nullable=False),
    Column("correspondent_display_name", String(300), nullable=False),
    Column("subject", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("opened_by", String(320), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("last_activity_at", DateTime(timezone=True), nullable=False),
    Column("closed_by", String(320), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("close_reason", String(10), nullable=True),
    # The patient's name as identity gave it with the latest message (the health actor's view).
    Column("patient_display_name", String(300), nullable=True),
    # The open conversation between a patient and a health actor (admission of every message).
    Index("ix_conversations_pair", "patient_ins", "correspondent_address", "state"),
    # A patient's and a mailbox's conversations, most recently active first (keyset pages).
    Index("ix_conversations_patient_activity", "patient_ins", "last_activity_at", "id"),
    Index(
        "ix_conversations_correspondent_activity", "correspondent_address", "last_activity_at", "id"
    ),
    # The idle closer's scan.
    Index("ix_conversations_state_activity", "state", "last_activity_at"),
)

# The admission log: every message decided, delivered or bounced.
messages = Table(
    "messages",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("conversation_id", String(36), nullable=True, index=True),
    Column("sender_address", String(320), nullable=False),
    Column("recipient_address", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("bounce_reason", String(20), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
