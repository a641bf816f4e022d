"""Platform tables and the table the test handlers write their effects to.

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
        "effects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("note", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("effects")
