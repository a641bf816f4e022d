"""Patient profiles and the platform tables.

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
        "patients",
        sa.Column("ins", sa.String(15), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("birth_name", sa.String(200), nullable=False),
        sa.Column("first_names", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("app_installed", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("patients")
