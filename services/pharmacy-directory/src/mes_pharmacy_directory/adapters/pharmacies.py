"""Pharmacies, their search words, dispensations and the channel's counters, in SQL.

One code path for SQLite and PostgreSQL: word prefixes are ranges of a primary key, positions
a range of an index on (open, lat, lon); distances are computed here, so both engines answer
alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from ..domain.pharmacy import Pharmacy
from ..service.ports import Box, PharmacyFilter, Recipient
from .tables import dispensings, mailboxes, pharmacies, pharmacy_words, rate_counters

__all__ = ["SqlPharmacyRepository"]

_COLUMNS = (
    pharmacies.c.finess,
    pharmacies.c.name,
    pharmacies.c.address_line,
    pharmacies.c.postal_code,
    pharmacies.c.city,
    pharmacies.c.lat,
    pharmacies.c.lon,
    pharmacies.c.open,
)


def _pharmacy(row: Any) -> Pharmacy:
    m = row._mapping
    return Pharmacy(
        finess=m["finess"],
        name=m["name"],
        address_line=m["address_line"],
        postal_code=m["postal_code"],
        city=m["city"],
        lat=m["lat"],
        lon=m["lon"],
        open=bool(m["open"]),
    )


def _conditions(f: PharmacyFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [pharmacies.c.open.is_(True)]
    for word in f.words:
        # Words are [0-9a-z] only and "{" follows "z": the range holds exactly the words that
        # start with ``word``, a range scan of the primary key.
        where.append(
            pharmacies.c.finess.in_(
                select(pharmacy_words.c.finess).where(
                    pharmacy_words.c.word >= word, pharmacy_words.c.word < word + "{"
                )
            )
        )
    if f.postal_code:
        where.append(pharmacies.c.postal_code >= f.postal_code)
        where.append(pharmacies.c.postal_code < f.postal_code + "{")
    return where


class SqlPharmacyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, finess: str) -> Pharmacy | None:
        row = (
            await self.conn.execute(select(*_COLUMNS).where(pharmacies.c.finess == finess))
        ).first()
        return _pharmacy(row) if row else None

    async def get_many(self, finesses: Sequence[str]) -> dict[str, Pharmacy]:
        if not finesses:
            return {}
        rows = await self.conn.execute(select(*_COLUMNS).where(pharmacies.c.finess.in_(finesses)))
        return {r.finess: _pharmacy(r) for r in rows}

    async def store(self, pharmacy: Pharmacy, *, run: str | None, new: bool) -> None:
        values = {
            "name": pharmacy.name,
            "address_line": pharmacy.address_line,
            "postal_code": pharmacy.postal_code,
            "city": pharmacy.city,
            "lat": pharmacy.lat,
            "lon": pharmacy.lon,
            "open": pharmacy.open,
            "sort_name": pharmacy.sort_name[:400],
            "import_run": run,
            "updated_at": datetime.now(UTC),
        }
        if new:
            await self.conn.execute(insert(pharmacies).values(finess=pharmacy.finess, **values))
        else:
            await self.conn.execute(
                update(pharmacies).where(pharmacies.c.finess == pharmacy.finess).values(**values)
            )
        await self.conn.execute(
            delete(pharmacy_words).where(pharmacy_words.c.finess == pharmacy.finess)
        )
        words = [{"word": w[:100], "finess": pharmacy.finess} for w in pharmacy.words]
        if words:
            await self.conn.execute(insert(pharmacy_words), words)

    async def mark_seen(self, finesses: Sequence[str], run: str) -> None:
        """Unchanged pharmacies of an import run: seen, so close-absent keeps them open."""
        if finesses:
            await self.conn.execute(
                update(pharmacies).where(pharmacies.c.finess.in_(finesses)).values(import_run=run)
            )

    async def close_absent(self, run: str) -> int:
        result = await self.conn.execute(
            update(pharmacies)
            .where(
                pharmacies.c.open.is_(True),
                or_(pharmacies.c.import_run.is_(None), pharmacies.c.import_run != run),
            )
            .values(open=False, updated_at=datetime.now(UTC))
        )
        return int(result.rowcount or 0)

    async def by_name(
        self, f: PharmacyFilter, after: tuple[str, str] | None, limit: int
    ) -> list[Pharmacy]:
        stmt = (
            select(*_COLUMNS)
            .where(*_conditions(f))
            .order_by(pharmacies.c.sort_name, pharmacies.c.finess)
            .limit(limit)
        )
        if after is not None:
            name, finess = after
            stmt = stmt.where(
                or_(
                    pharmacies.c.sort_name > name,
                    and_(pharmacies.c.sort_name == name, pharmacies.c.finess > finess),
                )
            )
        return [_pharmacy(r) for r in await self.conn.execute(stmt)]

    async def in_box(self, f: PharmacyFilter, box: Box) -> list[Pharmacy]:
        stmt = select(*_COLUMNS).where(
            *_conditions(f),
            pharmacies.c.lat.between(box.south, box.north),
            pharmacies.c.lon.between(box.west, box.east),
        )
        return [_pharmacy(r) for r in await self.conn.execute(stmt)]

    async def recipients(self, finesses: Iterable[str]) -> dict[str, Recipient]:
        """The organisational pharmacy mailbox of each FINESS that has one (the first by
        address when several do)."""
        wanted = list(set(finesses))
        if not wanted:
            return {}
        rows = await self.conn.execute(
            select(mailboxes.c.finess, mailboxes.c.address, mailboxes.c.display_name)
            .where(
                mailboxes.c.finess.in_(wanted),
                mailboxes.c.type == "ORG",
                mailboxes.c.pharmacy.is_(True),
            )
            .order_by(mailboxes.c.address)
        )
        found: dict[str, Recipient] = {}
        for r in rows:
            found.setdefault(r.finess, Recipient(r.address, r.display_name))
        return found

    async def replace_dispensations(self, ins: str, items: Sequence[tuple[str, date]]) -> None:
        await self.conn.execute(delete(dispensings).where(dispensings.c.ins == ins))
        if items:
            await self.conn.execute(
                insert(dispensings),
                [{"ins": ins, "finess": f, "dispensed_on": d} for f, d in sorted(set(items))],
            )

    async def dispensed_since(self, ins: str, since: date) -> list[tuple[str, date]]:
        """Each pharmacy the patient was dispensed at since ``since``, with the last date."""
        last = func.max(dispensings.c.dispensed_on)
        rows = await self.conn.execute(
            select(dispensings.c.finess, last.label("last"))
            .where(dispensings.c.ins == ins, dispensings.c.dispensed_on >= since)
            .group_by(dispensings.c.finess)
            .order_by(last.desc(), dispensings.c.finess)
        )
        return [(r.finess, r.last) for r in rows]

    async def count_up(self, key: str, window_start: int) -> int:
        """One more on ``key``'s counter of this window, atomically: the count after it."""
        # INSERT .. ON CONFLICT DO UPDATE .. RETURNING exists on both engines (SQLite >= 3.35).
        upsert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        row = upsert(rate_counters).values(key=key, window_start=window_start, count=1)
        stmt = row.on_conflict_do_update(
            index_elements=[rate_counters.c.key, rate_counters.c.window_start],
            set_={"count": rate_counters.c.count + 1},
        ).returning(rate_counters.c.count)
        return int((await self.conn.execute(stmt)).scalar_one())

    async def forget_windows_before(self, key: str, window_start: int) -> None:
        await self.conn.execute(
            delete(rate_counters).where(
                rate_counters.c.key == key, rate_counters.c.window_start < window_start
            )
        )
