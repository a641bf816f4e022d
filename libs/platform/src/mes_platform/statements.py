"""Statements that differ between the two engines, built once per table."""

from __future__ import annotations

import functools

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

__all__ = ["insert_ignoring_duplicates"]


@functools.cache
def insert_ignoring_duplicates(dialect_name: str, table: Table) -> PgInsert | SqliteInsert:
    """``INSERT ... ON CONFLICT DO NOTHING`` on ``table``: a row whose key exists is skipped
    (on PostgreSQL, a row another transaction is inserting waits for it, then is skipped).
    Cached: on the path of every event delivered."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
