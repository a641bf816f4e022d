from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    true,
)

from mes_platform.names import NAME_MAX_LENGTH

__all__ = [
    "dispensings",
    "mailboxes",
    "metadata",
    "pharmacies",
    "pharmacy_word_counts",
    "pharmacy_words",
    "rate_counters",
]

metadata = MetaData()

# Compared byte by byte on both engines (SQLite's BINARY, PostgreSQL's "C"), so that listings by
# name and prefix ranges of search words give the same answers whatever the server's locale.
BYTE_ORDERED_400 = String(400).with_variant(String(400, collation="C"), "postgresql")
BYTE_ORDERED_100 = String(100).with_variant(String(100, collation="C"), "postgresql")

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("address", String(254), primary_key=True),
    Column("type", String(3), nullable=False),
    Column("display_name", String(NAME_MAX_LENGTH), nullable=False),
    Column("rpps", String(11), nullable=True),
    Column("finess", String(9), nullable=True),
    Column("pharmacy", Boolean, nullable=False),
    # Lower-cased, accent-free name + address + numbers: one LIKE serves both engines.
    # Unbounded: compatibility forms grow ("ﬃ" is "ffi", "ß" folds to "ss"), so no length
    # the display name's would bound it.
    Column("search_text", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("alert_email", String(254), nullable=True),
    Index("ix_mailboxes_finess", "finess"),
    Index("ix_mailboxes_rpps", "rpps"),
)

# Pharmacies as establishments (the FINESS extract) and what they dispensed to whom: the
# tables of the pharmacy picker.
pharmacies = Table(
    "pharmacies",
    metadata,
    Column("finess", String(9), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address_line", String(300), nullable=True),
    Column("postal_code", String(5), nullable=True),
    Column("city", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("open", Boolean, nullable=False, server_default=true()),
    # The normalised name: listings by name, keyset-paginated on (sort_name, finess).
    Column("sort_name", BYTE_ORDERED_400, nullable=False, server_default=""),
    # The import that last saw it: an import closes what it did not see.
    Column("import_run", String(64), nullable=True),
    Index("ix_pharmacies_sort", "open", "sort_name", "finess"),
    Index("ix_pharmacies_postal", "open", "postal_code", "sort_name", "finess"),
    Index("ix_pharmacies_lat_lon", "open", "lat", "lon", "finess"),
    # PostgreSQL also has a GiST index on point(lon, lat) of the open pharmacies (migration
    # 0004), which answers the boxes of a search near a point.
)

# Every word of a pharmacy's name, address, postal code and city, normalised: a search word
# matches as a prefix, a range scan of this primary key on both engines.
pharmacy_words = Table(
    "pharmacy_words",
    metadata,
    Column("word", BYTE_ORDERED_100, primary_key=True),
    Column("finess", String(9), primary_key=True),
    # The pharmacy's sort_name, so that a search orders its matches without the whole table.
    Column("sort_name", BYTE_ORDERED_400, nullable=False),
    # Covering: a word's range gives its pharmacies in name order without visiting the rows.
    Index("ix_pharmacy_words_cover", "word", "sort_name", "finess"),
    # A pharmacy's words: whether it has one starting with a prefix is one probe.
    Index("ix_pharmacy_words_finess", "finess", "word"),
)

# How many pharmacies have each word, as of the last import's end: a search starts from its
# rarest word. Only the choice of that word depends on them, never which pharmacies match.
pharmacy_word_counts = Table(
    "pharmacy_word_counts",
    metadata,
    Column("word", BYTE_ORDERED_100, primary_key=True),
    Column("pharmacies", Integer, nullable=False),
)

# Fixed-window counters of the patient -> pharmacy channel, shared by every gateway process.
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("count", Integer, nullable=False),
)

dispensings = Table(
    "dispensings",
    metadata,
    Column("ins", String(15), primary_key=True),
    Column("finess", String(9), primary_key=True),
    Column("dispensed_on", Date, primary_key=True),
    Index("ix_dispensings_ins_date", "ins", "dispensed_on"),
)
