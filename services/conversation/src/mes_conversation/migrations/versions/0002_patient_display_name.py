"""The patient's name on each conversation, for the health actor's list of conversations.

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
    # Nullable: conversations from before are shown with the patient's address only until the
    # next message brings identity's name.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("patient_display_name", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("patient_display_name")
