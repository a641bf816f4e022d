"""What the directory's use cases need from storage, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from mes_contracts.addresses import MailboxType
from mes_platform.ports import UnitOfWorkPort

from ..domain.model import MailboxEntry

__all__ = [
    "AlreadyRegistered",
    "DirectoryUoW",
    "MailboxQuery",
    "MailboxRepository",
    "RepositoryReader",
]


class AlreadyRegistered(Exception):
    """Another transaction registered the same address first (a PostgreSQL race)."""


@dataclass(frozen=True)
class MailboxQuery:
    type: MailboxType | None = None
    pharmacy: bool | None = None
    q: str | None = None
    after: str | None = None
    limit: int = 50


class MailboxRepository(Protocol):
    async def get(self, address: str) -> MailboxEntry | None: ...
    async def add(self, entry: MailboxEntry) -> None: ...
    async def save(self, entry: MailboxEntry) -> None: ...
    async def search(self, query: MailboxQuery) -> list[MailboxEntry]: ...


class DirectoryUoW(UnitOfWorkPort, Protocol):
    @property
    def mailboxes(self) -> MailboxRepository: ...


RepositoryReader = Callable[[], AbstractAsyncContextManager[MailboxRepository]]
