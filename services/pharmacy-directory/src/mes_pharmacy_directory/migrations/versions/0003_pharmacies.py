"""Pharmacies from the FINESS extract (position, open or closed, search words), the alert
e-mail of a directory entry, and the counters of the patient -> pharmacy channel.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Compared byte by byte on both engines whatever the server's locale (see adapters/tables.py).
_BYTES_400 = sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql")
_BYTES_100 = sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(sa.Column("alert_email", sa.String(254), nullable=True))
    with op.batch_alter_table("pharmacies") as batch:
        batch.add_column(sa.Column("lat", sa.Float, nullable=True))
        batch.add_column(sa.Column("lon", sa.Float, nullable=True))
        batch.add_column(sa.Column("open", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("sort_name", _BYTES_400, nullable=False, server_default=""))
        batch.add_column(sa.Column("import_run", sa.String(64), nullable=True))
    op.create_index("ix_pharmacies_sort", "pharmacies", ["open", "sort_name", "finess"])
    op.create_index(
        "ix_pharmacies_postal", "pharmacies", ["open", "postal_code", "sort_name", "finess"]
    )
    op.create_index("ix_pharmacies_lat_lon", "pharmacies", ["open", "lat", "lon", "finess"])
    op.create_table(
        "pharmacy_words",
        sa.Column("word", _BYTES_100, primary_key=True),
        sa.Column("finess", sa.String(9), primary_key=True),
        sa.Column("sort_name", _BYTES_400, nullable=False),
    )
    op.create_index("ix_pharmacy_words_cover", "pharmacy_words", ["word", "sort_name", "finess"])
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_counters")
    op.drop_table("pharmacy_words")
    op.drop_index("ix_pharmacies_lat_lon", "pharmacies")
    op.drop_index("ix_pharmacies_postal", "pharmacies")
    op.drop_index("ix_pharmacies_sort", "pharmacies")
    with op.batch_alter_table("pharmacies") as batch:
        for column in ("import_run", "sort_name", "open", "lon", "lat"):
            batch.drop_column(column)
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("alert_email")
