"""Use cases of the directory: register a mailbox, look one up, search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mes_contracts.addresses import MailboxType
from mes_contracts.events.directory import MailboxRegistered

from ..domain.errors import MailboxNotFound
from ..domain.model import (
    MailboxEntry,
    Registration,
    checked_query,
    encode_cursor,
    normalise_address,
    registered_entry,
)
from .ports import AlreadyRegistered, DirectoryUoW, MailboxQuery, RepositoryReader

__all__ = ["DirectoryService", "MailboxPage", "MailboxQuery", "RegisterMailbox"]


@dataclass(frozen=True)
class RegisterMailbox:
    address: str
    type: MailboxType
    display_name: str
    rpps: str | None
    finess: str | None
    pharmacy: bool
    alert_email: str | None = None


@dataclass(frozen=True)
class MailboxPage:
    items: list[MailboxEntry]
    next_cursor: str | None


class DirectoryService:
    def __init__(
        self,
        uow_factory: Callable[[], DirectoryUoW],
        reader: RepositoryReader,
    ) -> None:
        self.uow_factory = uow_factory
        self.reader = reader

    async def register(self, command: RegisterMailbox) -> tuple[MailboxEntry, Registration]:
        """Create or replace a directory entry; emits MailboxRegistered when the entry is new
        or differs, nothing on an identical replay (so a nightly re-import is silent)."""
        try:
            return await self._register_once(command)
        except AlreadyRegistered:
            # Two first registrations raced (PostgreSQL); the loser now sees the winner's row.
            return await self._register_once(command)

    async def _register_once(self, command: RegisterMailbox) -> tuple[MailboxEntry, Registration]:
        wanted = registered_entry(
            address=command.address,
            type=command.type,
            display_name=command.display_name,
            rpps=command.rpps,
            finess=command.finess,
            pharmacy=command.pharmacy,
            now=datetime.now(UTC),
            alert_email=command.alert_email,
        )
        async with self.uow_factory() as uow:
            current = await uow.mailboxes.get(wanted.address)
            if current is not None and current.same_content(wanted):
                return current, Registration.UNCHANGED
            if current is None:
                await uow.mailboxes.add(wanted)
                outcome = Registration.CREATED
            else:
                await uow.mailboxes.save(wanted)
                outcome = Registration.UPDATED
            uow.emit(
                MailboxRegistered(
                    address=wanted.address,
                    type=wanted.type,
                    display_name=wanted.display_name,
                    rpps=wanted.rpps,
                    finess=wanted.finess,
                    pharmacy=wanted.pharmacy,
                    alert_email=wanted.alert_email,
                )
            )
            await uow.commit()
        return wanted, outcome

    async def get(self, address: str) -> MailboxEntry:
        normalised = normalise_address(address)
        async with self.reader() as repository:
            entry = await repository.get(normalised)
        if entry is None:
            raise MailboxNotFound(f"No mailbox {normalised} in the directory.")
        return entry

    async def search(self, query: MailboxQuery) -> MailboxPage:
        # One extra row tells whether another page exists without a count query.
        probe = MailboxQuery(
            type=query.type,
            pharmacy=query.pharmacy,
            q=checked_query(query.q) if query.q else None,
            after=query.after,
            limit=query.limit + 1,
        )
        async with self.reader() as repository:
            rows = await repository.search(probe)
        items = rows[: query.limit]
        next_cursor = encode_cursor(items[-1].address) if len(rows) > query.limit else None
        return MailboxPage(items=items, next_cursor=next_cursor)
