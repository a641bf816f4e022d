"""Tables every service has beside its own: the outbox, handled events, parked events,
idempotency keys. Created by each service's first migration (``create_platform_tables``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["PLATFORM_METADATA", "idempotency_keys", "outbox", "parked_events", "processed_events"]

PLATFORM_METADATA = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
_Seq = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    PLATFORM_METADATA,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subject", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("correlation_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

processed_events = Table(
    "processed_events",
    PLATFORM_METADATA,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

parked_events = Table(
    "parked_events",
    PLATFORM_METADATA,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    PLATFORM_METADATA,
    Column("scope", String(300), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
