from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table

__all__ = ["metadata", "patients"]

metadata = MetaData()

patients = Table(
    "patients",
    metadata,
    Column("ins", String(15), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("birth_name", String(200), nullable=False),
    Column("first_names", String(200), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("email", String(254), nullable=True),
    Column("app_installed", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
