"""Pharmacies, their search words, dispensations and the channel's counters, in SQL.

One code path for SQLite and PostgreSQL: word prefixes are ranges of a primary key, positions
a range of an index on (open, lat, lon); distances are computed here, so both engines answer
alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from ..domain.pharmacy import Pharmacy
from ..service.ports import Box, Listed, PharmacyFilter, Recipient
from .listing import COLUMNS, MAILBOX, after_page
from .tables import (
    dispensings,
    mailboxes,
    pharmacies,
    pharmacy_word_counts,
    pharmacy_words,
    rate_counters,
)
from .word_search import WordSearch, word_values, words_page

__all__ = ["SqlPharmacyRepository"]


def _in_box_gist(box: Box) -> ColumnElement[bool]:
    """PostgreSQL: the box as a geometric containment, which its GiST index on the open
    pharmacies' positions answers whatever the plan (a prepared statement's generic plan
    would otherwise read a latitude band of the b-tree)."""
    corner_sw = func.point(box.west, box.south)
    corner_ne = func.point(box.east, box.north)
    position = func.point(pharmacies.c.lon, pharmacies.c.lat)
    return position.op("<@")(func.box(corner_sw, corner_ne)).self_group()


def _listed(m: RowMapping) -> Listed:
    return Listed(_pharmacy(m), m["mailbox"])


def _pharmacy(m: RowMapping) -> Pharmacy:
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
    where: list[ColumnElement[bool]] = [pharmacies.c.open == true()]
    if f.postal_code and len(f.postal_code) == 5:
        # Equality: the postal index then gives the rows in name order.
        where.append(pharmacies.c.postal_code == f.postal_code)
    elif f.postal_code:
        where.append(pharmacies.c.postal_code >= f.postal_code)
        where.append(pharmacies.c.postal_code < f.postal_code + "{")
    return where


class SqlPharmacyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, finess: str) -> Listed | None:
        row = (
            (
                await self.conn.execute(
                    select(*COLUMNS, MAILBOX).where(pharmacies.c.finess == finess)
                )
            )
            .mappings()
            .first()
        )
        return _listed(row) if row else None

    async def get_many(self, finesses: Sequence[str]) -> dict[str, Pharmacy]:
        if not finesses:
            return {}
        rows = await self.conn.execute(select(*COLUMNS).where(pharmacies.c.finess.in_(finesses)))
        return {r["finess"]: _pharmacy(r) for r in rows.mappings()}

    async def store_many(
        self, created: Sequence[Pharmacy], changed: Sequence[Pharmacy], run: str | None
    ) -> None:
        """Insert ``created``, update ``changed``, and replace both's search words: a few
        statements for a whole batch."""
        now = datetime.now(UTC)

        def values(p: Pharmacy) -> dict[str, Any]:
            return {
                "name": p.name,
                "address_line": p.address_line,
                "postal_code": p.postal_code,
                "city": p.city,
                "lat": p.lat,
                "lon": p.lon,
                "open": p.open,
                "sort_name": p.sort_name[:400],
                "import_run": run,
                "updated_at": now,
            }

        if created:
            await self.conn.execute(
                insert(pharmacies), [{"finess": p.finess, **values(p)} for p in created]
            )
        if changed:
            await self.conn.execute(
                update(pharmacies).where(pharmacies.c.finess == bindparam("key")),
                [{"key": p.finess, **values(p)} for p in changed],
            )
            await self.conn.execute(
                delete(pharmacy_words).where(
                    pharmacy_words.c.finess.in_([p.finess for p in changed])
                )
            )
        words = [
            {"word": w[:100], "finess": p.finess, "sort_name": p.sort_name[:400]}
            for p in (*created, *changed)
            for w in p.words
        ]
        if words:
            await self.conn.execute(insert(pharmacy_words), words)

    async def mark_seen(self, finesses: Sequence[str], run: str) -> None:
        """Unchanged pharmacies of an import run: seen, so close-absent keeps them open."""
        if finesses:
            await self.conn.execute(
                update(pharmacies).where(pharmacies.c.finess.in_(finesses)).values(import_run=run)
            )

    async def refresh_statistics(self) -> None:
        """After an import, PostgreSQL's planner needs the new row counts: without them it
        reads a word search's matches by scanning every pharmacy."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(text("ANALYZE pharmacies"))
            await self.conn.execute(text("ANALYZE pharmacy_words"))
            await self.conn.execute(text("ANALYZE pharmacy_word_counts"))

    async def close_absent(self, run: str) -> int:
        result = await self.conn.execute(
            update(pharmacies)
            .where(
                pharmacies.c.open == true(),
                or_(pharmacies.c.import_run.is_(None), pharmacies.c.import_run != run),
            )
            .values(open=False, updated_at=datetime.now(UTC))
        )
        closed = int(result.rowcount or 0)
        # Only open pharmacies have search words: a search can then page through the words
        # alone (an import that lists a pharmacy again writes them back).
        await self.conn.execute(
            delete(pharmacy_words).where(
                pharmacy_words.c.finess.in_(
                    select(pharmacies.c.finess).where(pharmacies.c.open == false())
                )
            )
        )
        # The whole extract is in: each word's count, once per import.
        await self.conn.execute(delete(pharmacy_word_counts))
        await self.conn.execute(
            insert(pharmacy_word_counts).from_select(
                ["word", "pharmacies"],
                select(pharmacy_words.c.word, func.count()).group_by(pharmacy_words.c.word),
            )
        )
        return closed

    async def by_name(
        self, f: PharmacyFilter, after: tuple[str, str] | None, limit: int
    ) -> list[Listed]:
        if not f.words:
            stmt = (
                select(*COLUMNS, MAILBOX)
                .where(*_conditions(f))
                .order_by(pharmacies.c.sort_name, pharmacies.c.finess)
                .limit(limit)
            )
            if after is not None:
                stmt = stmt.where(after_page(pharmacies.c.sort_name, pharmacies.c.finess, after))
            return [_listed(r) for r in (await self.conn.execute(stmt)).mappings()]
        postal = f.postal_code or ""
        stmt = words_page(len(f.words), len(postal) if len(postal) < 5 else 5, after is not None)
        values: dict[str, Any] = word_values(f.words) | {"page_size": limit}
        values |= {"postal_code": postal, "postal_end": postal + "{"}
        if after is not None:
            values |= {"after_name": after[0], "after_finess": after[1]}
        return [_listed(r) for r in (await self.conn.execute(stmt, values)).mappings()]

    async def in_box(self, f: PharmacyFilter, box: Box) -> list[tuple[str, float, float]]:
        """(FINESS, lat, lon) of the open pharmacies in ``box``: on SQLite from the index on
        positions alone, on PostgreSQL from its GiST index, whose bounds are fuzzy by 1e-6
        degrees (the use case keeps only the pharmacies inside a circle the box holds with a
        wider margin, so both engines answer alike)."""
        where = _conditions(f)
        if self.conn.dialect.name == "postgresql":
            where.append(_in_box_gist(box))
        else:
            where.append(pharmacies.c.lat.between(box.south, box.north))
            where.append(pharmacies.c.lon.between(box.west, box.east))
        if f.words:
            matches, words = WordSearch(len(f.words)).range_walk(always=True)
            where.append(pharmacies.c.finess.in_(matches.with_only_columns(words.c.finess)))
        stmt = select(pharmacies.c.finess, pharmacies.c.lat, pharmacies.c.lon).where(*where)
        rows = await self.conn.execute(stmt, word_values(f.words))
        return [(finess, lat, lon) for finess, lat, lon in rows.all()]

    async def listed(self, finesses: Sequence[str]) -> dict[str, Listed]:
        if not finesses:
            return {}
        rows = await self.conn.execute(
            select(*COLUMNS, MAILBOX).where(pharmacies.c.finess.in_(finesses))
        )
        return {r["finess"]: _listed(r) for r in rows.mappings()}

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
                mailboxes.c.pharmacy == true(),
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

    async def dispensed_since(self, ins: str, since: date) -> list[tuple[Listed, date]]:
        """Each open pharmacy the patient was dispensed at since ``since``, with the last
        date, most recent first."""
        last = func.max(dispensings.c.dispensed_on).label("last")
        history = (
            select(dispensings.c.finess, last)
            .where(dispensings.c.ins == ins, dispensings.c.dispensed_on >= since)
            .group_by(dispensings.c.finess)
            .subquery()
        )
        rows = await self.conn.execute(
            select(*COLUMNS, MAILBOX, history.c.last)
            .join_from(pharmacies, history, history.c.finess == pharmacies.c.finess)
            .where(pharmacies.c.open == true())
            .order_by(history.c.last.desc(), pharmacies.c.finess)
        )
        return [(_listed(r), r["last"]) for r in rows.mappings()]

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
