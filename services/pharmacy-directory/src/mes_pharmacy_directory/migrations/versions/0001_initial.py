"""The mailbox directory, pharmacies, dispensings and the platform tables.

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
        "mailboxes",
        sa.Column("address", sa.String(254), primary_key=True),
        sa.Column("type", sa.String(3), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("rpps", sa.String(11), nullable=True),
        sa.Column("finess", sa.String(9), nullable=True),
        sa.Column("pharmacy", sa.Boolean, nullable=False),
        sa.Column("search_text", sa.String(600), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mailboxes_finess", "mailboxes", ["finess"])
    op.create_index("ix_mailboxes_rpps", "mailboxes", ["rpps"])
    op.create_table(
        "pharmacies",
        sa.Column("finess", sa.String(9), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address_line", sa.String(300), nullable=True),
        sa.Column("postal_code", sa.String(5), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dispensings",
        sa.Column("ins", sa.String(15), primary_key=True),
        sa.Column("finess", sa.String(9), primary_key=True),
        sa.Column("dispensed_on", sa.Date, primary_key=True),
    )
    op.create_index("ix_dispensings_ins_date", "dispensings", ["ins", "dispensed_on"])


def downgrade() -> None:
    op.drop_table("dispensings")
    op.drop_table("pharmacies")
    op.drop_table("mailboxes")
