"""Alembic, applied at start-up with the service's own async engine.

A service keeps its scripts in ``<package>/migrations`` with an ``env.py`` that calls
:func:`run_env`. Its first revision calls :func:`create_platform_tables`.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from .db import Database
from .tables import PLATFORM_METADATA

__all__ = ["create_platform_tables", "run_env", "upgrade_to_head"]

# Any constant works; replicas starting together take turns on the migration.
_PG_MIGRATION_LOCK = 0x4D4553


def create_platform_tables(op: Any) -> None:
    PLATFORM_METADATA.create_all(op.get_bind())


def run_env(context: Any, target_metadata: MetaData | None = None) -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run at service start-up, with a connection")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade(connection: Connection, script_location: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_to_head(db: Database, script_location: str) -> None:
    """``script_location`` as Alembic takes it, e.g. ``"mes_identity:migrations"``."""
    async with db.transaction() as conn:
        await conn.run_sync(_upgrade, script_location)
