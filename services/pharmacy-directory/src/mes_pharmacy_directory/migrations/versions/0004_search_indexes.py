"""What the pharmacy search reads: how many pharmacies have each word (a search starts from
its rarest word), a (FINESS, word) index to check a pharmacy's other words in one probe, and on
PostgreSQL a GiST index on the open pharmacies' positions.

The GiST index is on the built-in ``point`` type: no extension is needed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_BYTES_100 = sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pharmacy_word_counts",
        sa.Column("word", _BYTES_100, primary_key=True),
        sa.Column("pharmacies", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO pharmacy_word_counts (word, pharmacies)"
        " SELECT word, count(*) FROM pharmacy_words GROUP BY word"
    )
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
    op.drop_table("pharmacy_word_counts")
