"""The directory's storage on both engines: a database made before a migration keeps its
entries and takes what the current code stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from mes_contracts.addresses import MailboxType
from mes_pharmacy_directory.adapters.tables import mailboxes
from mes_pharmacy_directory.adapters.uow import DirectoryUnitOfWork
from mes_pharmacy_directory.domain.model import registered_entry
from mes_platform.db import Database
from mes_platform.migrations import upgrade_to_head

MIGRATIONS = "mes_pharmacy_directory:migrations"


def _upgrade_to(revision: str) -> Callable[[Connection], None]:
    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


async def test_a_directory_of_the_first_schema_keeps_its_entries_and_takes_long_names(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(_upgrade_to("0001"))
            await conn.execute(
                insert(mailboxes).values(
                    address="pharmacie.centrale@officine.mssante.fr",
                    type="ORG",
                    display_name="Pharmacie Centrale",
                    rpps=None,
                    finess="750012345",
                    pharmacy=True,
                    search_text="pharmacie centrale pharmacie.centrale@officine.mssante.fr",
                    updated_at=datetime.now(UTC),
                )
            )
        await upgrade_to_head(db, MIGRATIONS)
        # 200 characters whose search form is 600, with the address after them.
        long = registered_entry(
            address="ligatures@officine.mssante.fr",
            type=MailboxType.ORG,
            display_name="ﬃ" * 200,
            rpps=None,
            finess=None,
            pharmacy=False,
            now=datetime.now(UTC),
        )
        async with DirectoryUnitOfWork(db, "directory") as uow:
            await uow.mailboxes.add(long)
            await uow.commit()
        async with DirectoryUnitOfWork(db, "directory") as uow:
            kept = await uow.mailboxes.get("pharmacie.centrale@officine.mssante.fr")
            assert kept is not None and kept.display_name == "Pharmacie Centrale"
            assert kept.pharmacy and kept.finess == "750012345"
            stored = await uow.mailboxes.get(long.address)
            assert stored is not None and stored.display_name == "ﬃ" * 200
    finally:
        await db.dispose()
