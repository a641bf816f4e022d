from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table

from mes_platform.names import NAME_MAX_LENGTH

__all__ = ["metadata", "patients"]

metadata = MetaData()

patients = Table(
    "patients",
    metadata,
    Column("ins", String(15), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("birth_name", String(NAME_MAX_LENGTH), nullable=False),
    Column("first_names", String(NAME_MAX_LENGTH), nullable=False),
    Column("display_name", String(NAME_MAX_LENGTH), nullable=False),
    Column("email", String(254), nullable=True),
    Column("app_installed", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
