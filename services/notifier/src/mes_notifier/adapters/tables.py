"""The notifier's own tables, beside the platform's (outbox, processed and parked events)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

__all__ = [
    "alert_mailboxes",
    "app_notifications",
    "devices",
    "metadata",
    "notifications",
    "patient_contacts",
    "patient_email_windows",
]

metadata = MetaData()

# The queue and the record at once: a row per notification, keyed by what caused it.
notifications = Table(
    "notifications",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("target", String(320), nullable=False),
    Column("recipient", String(320), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("data", Text, nullable=False),
    Column("trigger_event_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    # Claimed by a sender until then; another sender takes it over after.
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_notifications_due", "state", "next_attempt_at"),
    Index("ix_notifications_target", "target", text("created_at DESC")),
    Index("ix_notifications_recipient", "recipient", text("created_at DESC")),
    Index("ix_notifications_page", text("created_at DESC"), text("id DESC")),
)

# What the notifier keeps of identity's patient profiles.
patient_contacts = Table(
    "patient_contacts",
    metadata,
    Column("ins", String(15), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("email", String(320), nullable=True),
    Column("app_installed", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# When a patient was last e-mailed: new messages within the window wait and go together.
patient_email_windows = Table(
    "patient_email_windows",
    metadata,
    Column("ins", String(15), primary_key=True),
    Column("last_sent_at", DateTime(timezone=True), nullable=False),
)

# Organisational mailboxes of the directory and their alert e-mail.
alert_mailboxes = Table(
    "alert_mailboxes",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("type", String(8), nullable=False),
    Column("alert_email", String(320), nullable=True),
)

app_notifications = Table(
    "app_notifications",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("ins", String(15), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=True),
    Index("ix_app_notifications_page", "ins", text("created_at DESC"), text("id DESC")),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("ins", String(15), nullable=False),
    Column("platform", String(16), nullable=False),
    # A token is one app installation: registered again by another patient, it moves.
    Column("token", String(4096), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_devices_ins", "ins"),
)
