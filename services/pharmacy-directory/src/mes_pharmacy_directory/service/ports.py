"""What the directory's use cases need from storage, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from mes_contracts.addresses import MailboxType
from mes_platform.ports import UnitOfWorkPort

from ..domain.model import MailboxEntry
from ..domain.pharmacy import Pharmacy

__all__ = [
    "AlreadyRegistered",
    "Box",
    "DirectoryUoW",
    "Listed",
    "MailboxQuery",
    "MailboxRepository",
    "PharmacyFilter",
    "PharmacyReader",
    "PharmacyRepository",
    "PharmacyUoW",
    "Recipient",
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


@dataclass(frozen=True)
class PharmacyFilter:
    """Open pharmacies whose words start with each of ``words``, and whose postal code starts
    with ``postal_code``."""

    words: tuple[str, ...] = ()
    postal_code: str | None = None


@dataclass(frozen=True)
class Box:
    south: float
    north: float
    west: float
    east: float


@dataclass(frozen=True)
class Listed:
    """A pharmacy and the address of its organisational mailbox, when it has one."""

    pharmacy: Pharmacy
    mailbox: str | None


@dataclass(frozen=True)
class Recipient:
    """A pharmacy's organisational mailbox, the one patients write to."""

    address: str
    display_name: str


class PharmacyRepository(Protocol):
    async def get(self, finess: str) -> Listed | None: ...
    async def get_many(self, finesses: Sequence[str]) -> dict[str, Pharmacy]: ...
    async def store_many(
        self, created: Sequence[Pharmacy], changed: Sequence[Pharmacy], run: str | None
    ) -> None: ...
    async def mark_seen(self, finesses: Sequence[str], run: str) -> None: ...
    async def close_absent(self, run: str) -> int: ...
    async def refresh_statistics(self) -> None: ...
    async def by_name(
        self, f: PharmacyFilter, after: tuple[str, str] | None, limit: int
    ) -> list[Listed]: ...
    async def in_box(self, f: PharmacyFilter, box: Box) -> list[tuple[str, float, float]]: ...
    async def listed(self, finesses: Sequence[str]) -> dict[str, Listed]: ...
    async def recipients(self, finesses: Iterable[str]) -> dict[str, Recipient]: ...
    async def replace_dispensations(self, ins: str, items: Sequence[tuple[str, date]]) -> None: ...
    async def dispensed_since(self, ins: str, since: date) -> list[tuple[Listed, date]]: ...
    async def count_up(self, key: str, window_start: int) -> int: ...
    async def forget_windows_before(self, key: str, window_start: int) -> None: ...


class PharmacyUoW(UnitOfWorkPort, Protocol):
    @property
    def pharmacies(self) -> PharmacyRepository: ...


PharmacyReader = Callable[[], AbstractAsyncContextManager[PharmacyRepository]]
