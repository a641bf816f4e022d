from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts.addresses import MailboxType
from mes_platform.db import Database

from ..domain.model import MailboxEntry, normalise_search
from ..service.ports import AlreadyRegistered, MailboxQuery
from .pharmacies import SqlPharmacyRepository
from .tables import mailboxes

__all__ = ["SqlMailboxRepository", "reading_pharmacies", "reading_repository"]


@asynccontextmanager
async def reading_repository(db: Database) -> AsyncIterator[SqlMailboxRepository]:
    async with db.reading() as conn:
        yield SqlMailboxRepository(conn)


@asynccontextmanager
async def reading_pharmacies(db: Database) -> AsyncIterator[SqlPharmacyRepository]:
    async with db.reading() as conn:
        yield SqlPharmacyRepository(conn)


def _row_to_entry(m: RowMapping) -> MailboxEntry:
    updated_at: datetime = m["updated_at"]
    # SQLite hands back naive datetimes; they were written in UTC.
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=UTC)
    return MailboxEntry(
        address=m["address"],
        type=MailboxType(m["type"]),
        display_name=m["display_name"],
        rpps=m["rpps"],
        finess=m["finess"],
        pharmacy=bool(m["pharmacy"]),
        updated_at=updated_at.astimezone(UTC),
        alert_email=m["alert_email"],
    )


def _values(e: MailboxEntry) -> dict[str, object]:
    return {
        "address": e.address,
        "type": e.type.value,
        "display_name": e.display_name,
        "rpps": e.rpps,
        "finess": e.finess,
        "pharmacy": e.pharmacy,
        "search_text": e.search_text,
        "updated_at": e.updated_at,
        "alert_email": e.alert_email,
    }


class SqlMailboxRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, address: str) -> MailboxEntry | None:
        row = (
            (await self.conn.execute(select(mailboxes).where(mailboxes.c.address == address)))
            .mappings()
            .first()
        )
        return _row_to_entry(row) if row else None

    async def add(self, entry: MailboxEntry) -> None:
        try:
            await self.conn.execute(insert(mailboxes).values(**_values(entry)))
        except IntegrityError as exc:
            raise AlreadyRegistered(entry.address) from exc

    async def save(self, entry: MailboxEntry) -> None:
        await self.conn.execute(
            update(mailboxes).where(mailboxes.c.address == entry.address).values(**_values(entry))
        )

    async def search(self, query: MailboxQuery) -> list[MailboxEntry]:
        """Entries in address order after ``query.after``, at most ``query.limit``."""
        stmt = select(mailboxes).order_by(mailboxes.c.address).limit(query.limit)
        if query.type is not None:
            stmt = stmt.where(mailboxes.c.type == query.type.value)
        if query.pharmacy is not None:
            stmt = stmt.where(mailboxes.c.pharmacy == query.pharmacy)
        if query.q:
            stmt = stmt.where(
                mailboxes.c.search_text.contains(normalise_search(query.q), autoescape=True)
            )
        if query.after is not None:
            stmt = stmt.where(mailboxes.c.address > query.after)
        return [_row_to_entry(r) for r in (await self.conn.execute(stmt)).mappings()]
