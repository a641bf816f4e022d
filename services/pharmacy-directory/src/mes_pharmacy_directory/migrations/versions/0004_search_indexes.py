"""Indexes of the pharmacy search: a (FINESS, word) index, to check a pharmacy's other words
in one probe, and on PostgreSQL a GiST index on the open pharmacies' positions.

The GiST index is on the built-in ``point`` type: no extension is needed.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pharmacy_words_finess", "pharmacy_words", ["finess", "word"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_pharmacies_position ON pharmacies USING gist (point(lon, lat))"
            " WHERE open"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_pharmacies_position")
    op.drop_index("ix_pharmacy_words_finess", "pharmacy_words")
