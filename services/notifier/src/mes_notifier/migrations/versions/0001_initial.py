"""The platform tables (outbox, processed and parked events, idempotency keys).

Revision ID: 0001
Revises:
"""

from alembic import op

from mes_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op)


def downgrade() -> None:
    for table in ("idempotency_keys", "parked_events", "processed_events", "outbox"):
        op.drop_table(table)
