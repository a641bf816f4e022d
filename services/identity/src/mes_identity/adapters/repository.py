from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts.events.identity import PatientState
from mes_platform.db import Database

from ..domain.model import PatientProfile
from ..service.ports import ProfileAlreadyExists
from .tables import patients

__all__ = ["ProfileAlreadyExists", "SqlPatientRepository", "reading_repository", "row_to_profile"]


@asynccontextmanager
async def reading_repository(db: Database) -> AsyncIterator[SqlPatientRepository]:
    """A repository on a read connection, for queries that change nothing."""
    async with db.reading() as conn:
        yield SqlPatientRepository(conn)


def row_to_profile(m: RowMapping) -> PatientProfile:
    return PatientProfile(
        ins=m["ins"],
        state=PatientState(m["state"]),
        birth_name=m["birth_name"],
        first_names=m["first_names"],
        display_name=m["display_name"],
        email=m["email"],
        app_installed=bool(m["app_installed"]),
    )


class SqlPatientRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, ins: str, *, for_update: bool = False) -> PatientProfile | None:
        """``for_update``: lock the row until the transaction ends, so that concurrent changes
        of one profile each start from the state the previous one left (PostgreSQL; SQLite
        writers are serialised anyway)."""
        query = select(patients).where(patients.c.ins == ins)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        return row_to_profile(row) if row else None

    async def add(self, profile: PatientProfile) -> None:
        """Raises ProfileAlreadyExists when another transaction created it first."""
        try:
            await self.conn.execute(insert(patients).values(**_values(profile)))
        except IntegrityError as exc:
            raise ProfileAlreadyExists(profile.ins) from exc

    async def save(self, profile: PatientProfile) -> None:
        await self.conn.execute(
            update(patients).where(patients.c.ins == profile.ins).values(**_values(profile))
        )


def _values(p: PatientProfile) -> dict[str, object]:
    return {
        "ins": p.ins,
        "state": p.state.value,
        "birth_name": p.birth_name,
        "first_names": p.first_names,
        "display_name": p.display_name,
        "email": p.email,
        "app_installed": p.app_installed,
        "updated_at": datetime.now(UTC),
    }
