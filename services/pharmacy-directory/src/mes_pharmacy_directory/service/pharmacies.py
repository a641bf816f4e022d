"""Use cases on pharmacies: import the FINESS extract, find one, reach one, the defaults."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from mes_contracts.ins import check_ins

from ..domain.errors import (
    InvalidDispensation,
    InvalidFiness,
    PharmacyClosed,
    PharmacyNotFound,
    PharmacyWithoutMailbox,
)
from ..domain.finess import finess_problem
from ..domain.pharmacy import (
    EARTH_RADIUS_M,
    GeoPoint,
    Pharmacy,
    PharmacyCursor,
    checked_finess,
    distance_m,
)
from .ports import Box, PharmacyFilter, PharmacyReader, PharmacyUoW, Recipient

__all__ = [
    "BatchOutcome",
    "Found",
    "PharmacyPage",
    "PharmacySearch",
    "PharmacyService",
    "Rejected",
]

# A patient's default pharmacies: those of the dispensing history of the last 12 months.
DEFAULT_HISTORY = timedelta(days=365)
# The first radius looked at around a point; multiplied until enough pharmacies are inside.
_FIRST_RADIUS_M = 600.0
_RADIUS_GROWTH = 4.0
_MAX_RADIUS_M = math.pi * EARTH_RADIUS_M


@dataclass(frozen=True)
class Rejected:
    index: int
    finess: str
    code: str
    detail: str


@dataclass(frozen=True)
class BatchOutcome:
    created: int
    updated: int
    unchanged: int
    rejected: list[Rejected]


@dataclass(frozen=True)
class PharmacySearch:
    filter: PharmacyFilter
    near: GeoPoint | None
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class Found:
    pharmacy: Pharmacy
    mailbox: str | None
    distance_m: int | None = None
    last_dispensed_on: date | None = None


@dataclass(frozen=True)
class PharmacyPage:
    items: list[Found]
    next_cursor: str | None


def _box(center: GeoPoint, radius_m: float) -> Box:
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.001
    south, north = max(-90.0, center.lat - dlat), min(90.0, center.lat + dlat)
    widest = max(abs(south), abs(north))
    if widest >= 89.9:
        return Box(south, north, -180.0, 180.0)
    dlon = dlat / math.cos(math.radians(widest))
    if dlon >= 180:
        return Box(south, north, -180.0, 180.0)
    # Boxes that cross the antimeridian are widened to all longitudes (no pharmacy is there).
    west, east = center.lon - dlon, center.lon + dlon
    if west < -180 or east > 180:
        return Box(south, north, -180.0, 180.0)
    return Box(south, north, west, east)


def _next_radius(radius: float, found: int, wanted: int) -> float:
    """The radius likely to hold ``wanted`` + 1 pharmacies, from the density seen so far
    (at least doubled, at most x 8)."""
    if found == 0:
        return radius * _RADIUS_GROWTH * 2
    return radius * min(8.0, max(2.0, 1.3 * math.sqrt((wanted + 1) / found)))


def _check_ins(ins: str) -> str:
    problem = check_ins(ins)
    if problem is not None:
        raise InvalidDispensation(
            f"Not a matricule INS ({problem.value}).", code="invalid_ins", reason=problem.value
        )
    return ins


class PharmacyService:
    def __init__(
        self,
        uow_factory: Callable[[], PharmacyUoW],
        reader: PharmacyReader,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.reader = reader
        self.clock = clock

    async def import_batch(self, run: str, records: Sequence[Pharmacy]) -> BatchOutcome:
        """Store the pharmacies of one batch of an import run: a new one is created, a changed
        one updated (and reopened when it was closed), and a wrong FINESS is reported, never
        stored. Replaying a batch changes nothing."""
        rejected: list[Rejected] = []
        valid: dict[str, Pharmacy] = {}
        for index, record in enumerate(records):
            problem = finess_problem(record.finess)
            if problem is not None:
                detail = (
                    "wrong check digit" if problem.value == "check_digit" else "not 9 characters"
                )
                rejected.append(Rejected(index, record.finess, "invalid_finess", detail))
                continue
            valid[record.finess] = replace(record, open=True)
        created = updated = unchanged = 0
        async with self.uow_factory() as uow:
            current = await uow.pharmacies.get_many(list(valid))
            seen, new, changed = [], [], []
            for finess, wanted in valid.items():
                stored = current.get(finess)
                if stored is None:
                    new.append(wanted)
                elif stored.same_content(wanted):
                    seen.append(finess)
                else:
                    changed.append(wanted)
            await uow.pharmacies.store_many(new, changed, run)
            await uow.pharmacies.mark_seen(seen, run)
            created, updated, unchanged = len(new), len(changed), len(seen)
            await uow.commit()
        return BatchOutcome(created, updated, unchanged, rejected)

    async def close_absent(self, run: str) -> int:
        """Once an import run has read its whole extract: the pharmacies it did not hold are
        closed (a newer extract no longer lists them), never deleted."""
        async with self.uow_factory() as uow:
            closed = await uow.pharmacies.close_absent(run)
            await uow.pharmacies.refresh_statistics()
            await uow.commit()
        return closed

    async def get(self, finess: str) -> Found:
        finess = checked_finess(finess)
        async with self.reader() as repository:
            listed = await repository.get(finess)
        if listed is None:
            raise PharmacyNotFound(f"No pharmacy {finess} in the directory.")
        return Found(listed.pharmacy, listed.mailbox)

    async def recipient(self, finess: str) -> tuple[Pharmacy, Recipient]:
        """Where a patient's message to this pharmacy goes: its organisational mailbox, when
        the pharmacy is open and has one."""
        finess = checked_finess(finess)
        async with self.reader() as repository:
            listed = await repository.get(finess)
            recipients = await repository.recipients([finess])
        if listed is None:
            raise PharmacyNotFound(f"No pharmacy {finess} in the directory.")
        if not listed.pharmacy.open:
            raise PharmacyClosed(f"The pharmacy {finess} is closed.")
        if finess not in recipients:
            raise PharmacyWithoutMailbox(
                f"The pharmacy {finess} has no organisational MSSanté mailbox."
            )
        return listed.pharmacy, recipients[finess]

    async def search(self, search: PharmacySearch) -> PharmacyPage:
        if search.near is not None:
            return await self._nearest(search, search.near)
        after = None
        if search.cursor is not None:
            cursor = PharmacyCursor.decode(search.cursor, by_distance=False)
            after = (str(cursor.key), cursor.finess)
        async with self.reader() as repository:
            rows = await repository.by_name(search.filter, after, search.limit + 1)
        items = [Found(r.pharmacy, r.mailbox) for r in rows[: search.limit]]
        next_cursor = None
        if len(rows) > search.limit:
            last = items[-1].pharmacy
            next_cursor = PharmacyCursor(last.sort_name, last.finess).encode()
        return PharmacyPage(items, next_cursor)

    async def _nearest(self, search: PharmacySearch, near: GeoPoint) -> PharmacyPage:
        """Ordered by distance (whole metres, then FINESS): boxes of growing radius around the
        point until one holds a page more than the cursor, then exact distances."""
        after: tuple[int, str] | None = None
        if search.cursor is not None:
            cursor = PharmacyCursor.decode(search.cursor, by_distance=True)
            after = (int(cursor.key), cursor.finess)
        radius = max(_FIRST_RADIUS_M, float(after[0]) * 1.2 if after else 0.0)
        async with self.reader() as repository:
            while True:
                candidates = []
                for finess, lat, lon in await repository.in_box(search.filter, _box(near, radius)):
                    d = round(distance_m(near, lat, lon))
                    if d <= radius and (after is None or (d, finess) > after):
                        candidates.append((d, finess))
                if len(candidates) > search.limit or radius >= _MAX_RADIUS_M:
                    break
                radius = min(_next_radius(radius, len(candidates), search.limit), _MAX_RADIUS_M)
            candidates.sort()
            page = candidates[: search.limit]
            rows = await repository.listed([f for _, f in page])
        items = [Found(rows[f].pharmacy, rows[f].mailbox, distance_m=d) for d, f in page]
        next_cursor = None
        if len(candidates) > search.limit:
            next_cursor = PharmacyCursor(page[-1][0], page[-1][1]).encode()
        return PharmacyPage(items, next_cursor)

    async def replace_dispensations(self, ins: str, items: Sequence[tuple[str, date]]) -> int:
        """The patient's dispensing history, replaced by ``items`` (FINESS, date): each FINESS
        checked (its check digit), no date in the future."""
        ins = _check_ins(ins)
        today = self.clock().date()
        checked = []
        for index, (finess, on) in enumerate(items):
            try:
                finess = checked_finess(finess)
            except InvalidFiness as exc:
                raise InvalidFiness(f"dispensations[{index}]: {exc.detail}", index=index) from exc
            if on > today:
                raise InvalidDispensation(
                    f"dispensations[{index}]: {on} is in the future.", index=index
                )
            checked.append((finess, on))
        async with self.uow_factory() as uow:
            await uow.pharmacies.replace_dispensations(ins, checked)
            await uow.commit()
        return len(set(checked))

    async def defaults(self, ins: str) -> list[Found]:
        """The pharmacies offered by default: dispensed at in the last 12 months, open, with an
        organisational mailbox; the most recent first."""
        ins = _check_ins(ins)
        since = self.clock().date() - DEFAULT_HISTORY
        async with self.reader() as repository:
            history = await repository.dispensed_since(ins, since)
        return [
            Found(row.pharmacy, row.mailbox, last_dispensed_on=on)
            for row, on in history
            if row.mailbox is not None
        ]
