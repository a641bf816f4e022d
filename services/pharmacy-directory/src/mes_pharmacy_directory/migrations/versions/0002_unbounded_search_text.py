"""The search text of a mailbox is unbounded.

It is the display name in its compatibility form, case-folded, with the address and numbers:
a display name of 200 characters can fold to far more than 600 ("ﬃ" is "ffi"), which
PostgreSQL refused at registration.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.alter_column(
            "search_text", existing_type=sa.String(600), type_=sa.Text, existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.alter_column(
            "search_text", existing_type=sa.Text, type_=sa.String(600), existing_nullable=False
        )
