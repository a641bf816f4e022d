from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform.uow import UnitOfWork

from .repository import SqlPatientRepository

__all__ = ["IdentityUnitOfWork"]


class IdentityUnitOfWork(UnitOfWork):
    patients: SqlPatientRepository

    def _open(self, conn: AsyncConnection) -> None:
        self.patients = SqlPatientRepository(conn)
