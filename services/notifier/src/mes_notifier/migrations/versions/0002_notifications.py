"""Notifications (the queue and the record), patient contacts, alert mailboxes, the app's
notification centre and devices.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = (
    "devices",
    "app_notifications",
    "alert_mailboxes",
    "patient_email_windows",
    "patient_contacts",
    "notifications",
)


def upgrade() -> None:
    # The queue and the record at once: a row per notification, keyed by what caused it.
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("trigger_event_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        # Claimed by a sender until then; another sender takes it over after.
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Index("ix_notifications_due", "state", "next_attempt_at"),
        sa.Index("ix_notifications_target", "target", sa.text("created_at DESC")),
        sa.Index("ix_notifications_recipient", "recipient", sa.text("created_at DESC")),
        sa.Index("ix_notifications_page", sa.text("created_at DESC"), sa.text("id DESC")),
    )

    # What the notifier keeps of identity's patient profiles.
    op.create_table(
        "patient_contacts",
        sa.Column("ins", sa.String(15), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("app_installed", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )

    # When a patient was last e-mailed: new messages within the window wait and go together.
    op.create_table(
        "patient_email_windows",
        sa.Column("ins", sa.String(15), primary_key=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
    )

    # Organisational mailboxes of the directory and their alert e-mail.
    op.create_table(
        "alert_mailboxes",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("alert_email", sa.String(320), nullable=True),
    )

    op.create_table(
        "app_notifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("ins", sa.String(15), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Index(
            "ix_app_notifications_page", "ins", sa.text("created_at DESC"), sa.text("id DESC")
        ),
    )

    op.create_table(
        "devices",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("ins", sa.String(15), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        # A token is one app installation: registered again by another patient, it moves.
        sa.Column("token", sa.String(4096), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_devices_ins", "ins"),
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
