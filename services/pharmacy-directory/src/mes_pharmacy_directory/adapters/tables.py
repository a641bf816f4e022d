from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, MetaData, String, Table, Text

from mes_platform.names import NAME_MAX_LENGTH

__all__ = ["dispensings", "mailboxes", "metadata", "pharmacies"]

metadata = MetaData()

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
    Index("ix_mailboxes_finess", "finess"),
    Index("ix_mailboxes_rpps", "rpps"),
)

# Pharmacies as establishments and what they dispensed to whom: the tables of the pharmacy
# picker ("pharmacies in the patient's reimbursement history"), filled by a later import.
pharmacies = Table(
    "pharmacies",
    metadata,
    Column("finess", String(9), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address_line", String(300), nullable=True),
    Column("postal_code", String(5), nullable=True),
    Column("city", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dispensings = Table(
    "dispensings",
    metadata,
    Column("ins", String(15), primary_key=True),
    Column("finess", String(9), primary_key=True),
    Column("dispensed_on", Date, primary_key=True),
    Index("ix_dispensings_ins_date", "ins", "dispensed_on"),
)
