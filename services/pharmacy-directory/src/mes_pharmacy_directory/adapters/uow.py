from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform.uow import UnitOfWork

from .pharmacies import SqlPharmacyRepository
from .repository import SqlMailboxRepository

__all__ = ["DirectoryUnitOfWork"]


class DirectoryUnitOfWork(UnitOfWork):
    mailboxes: SqlMailboxRepository
    pharmacies: SqlPharmacyRepository

    def _open(self, conn: AsyncConnection) -> None:
        self.mailboxes = SqlMailboxRepository(conn)
        self.pharmacies = SqlPharmacyRepository(conn)
