from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts.events.identity import PatientState

from ..domain.model import PatientProfile
from .tables import patients

__all__ = ["SqlPatientRepository", "row_to_profile"]


def row_to_profile(row: Row[tuple[object, ...]]) -> PatientProfile:
    m = row._mapping
    return PatientProfile(
        ins=m["ins"], state=PatientState(m["state"]), birth_name=m["birth_name"],
        first_names=m["first_names"], display_name=m["display_name"], email=m["email"],
        app_installed=bool(m["app_installed"]),
    )


class SqlPatientRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, ins: str) -> PatientProfile | None:
        row = (await self.conn.execute(select(patients).where(patients.c.ins == ins))).first()
        return row_to_profile(row) if row else None

    async def add(self, profile: PatientProfile) -> None:
        await self.conn.execute(insert(patients).values(**_values(profile)))

    async def save(self, profile: PatientProfile) -> None:
        await self.conn.execute(
            update(patients).where(patients.c.ins == profile.ins).values(**_values(profile))
        )


def _values(p: PatientProfile) -> dict[str, object]:
    return {
        "ins": p.ins, "state": p.state.value, "birth_name": p.birth_name,
        "first_names": p.first_names, "display_name": p.display_name, "email": p.email,
        "app_installed": p.app_installed, "updated_at": datetime.now(UTC),
    }
