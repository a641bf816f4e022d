"""Reading a mailbox: pages of messages, one message, read flags and unread counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mes_contracts.events.mailbox import MessageRead

from ..domain.errors import MessageNotFound
from ..domain.identifiers import could_be_id, mailbox_address
from ..domain.messages import Cursor, Folder, MessageCopy, read_receipt_for
from .ports import ReadSide, UnitOfWorkFactory

__all__ = ["MailboxService", "Page", "UnreadCounts"]


@dataclass(frozen=True)
class Page:
    items: list[MessageCopy]
    next_cursor: str | None


@dataclass(frozen=True)
class UnreadCounts:
    total: int
    by_conversation: dict[str, int]


class MailboxService:
    def __init__(self, uow_factory: UnitOfWorkFactory, reader: ReadSide) -> None:
        self.uow_factory = uow_factory
        self.reader = reader

    async def page(
        self,
        mailbox: str,
        *,
        folder: Folder | None,
        conversation_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """Newest first. Keyset paging: a message arriving between two pages neither shifts
        nor repeats the rows of the next page."""
        mailbox = mailbox_address(mailbox)
        after = Cursor.decode(cursor) if cursor else None
        if conversation_id is not None and not could_be_id(conversation_id):
            return Page([], None)
        async with self.reader() as repos:
            rows = await repos.messages.page(
                mailbox,
                folder=folder,
                conversation_id=conversation_id,
                after=after,
                limit=limit + 1,
            )
        more = len(rows) > limit
        items = rows[:limit]
        next_cursor = Cursor(items[-1].sent_at, items[-1].message_id).encode() if more else None
        return Page(items, next_cursor)

    async def get(self, mailbox: str, message_id: str) -> MessageCopy:
        mailbox = mailbox_address(mailbox)
        if not could_be_id(message_id):
            raise MessageNotFound("No such message in this mailbox.")
        async with self.reader() as repos:
            copy = await repos.messages.get(mailbox, message_id)
        if copy is None:
            raise MessageNotFound("No such message in this mailbox.")
        return copy

    async def open(self, mailbox: str, message_id: str) -> MessageCopy:
        """A message as its owner opens it: the first opening marks it read, with the receipt
        its sender asked for (:meth:`mark_read`); a later one only reads it."""
        copy = await self.get(mailbox, message_id)
        if copy.read:
            return copy
        return copy.mark_read(await self.mark_read(mailbox, message_id))

    async def mark_read(self, mailbox: str, message_id: str) -> datetime:
        """Mark a message read; idempotent. On the first read of a message whose sender asked
        for a receipt, the receipt lands in the sender's inbox in the same transaction, and
        ``MessageRead`` is emitted (the patient cannot refuse the receipt)."""
        mailbox = mailbox_address(mailbox)
        if not could_be_id(message_id):
            raise MessageNotFound("No such message in this mailbox.")
        async with self.uow_factory() as uow:
            copy = await uow.messages.get(mailbox, message_id)
            if copy is None:
                raise MessageNotFound("No such message in this mailbox.")
            if copy.read_at is not None:
                return copy.read_at
            now = datetime.now(UTC)
            if not await uow.messages.mark_read(mailbox, message_id, now):
                # Another replica read it first (PostgreSQL); its read is the first read.
                again = await uow.messages.get(mailbox, message_id)
                return again.read_at if again and again.read_at else now
            if copy.wants_receipt_on_first_read:
                await uow.messages.add_copies([read_receipt_for(copy, now)], now)
                uow.emit(
                    MessageRead(
                        message_id=copy.message_id,
                        mailbox_address=mailbox,
                        read_at=now,
                        read_receipt_requested=True,
                        original_sender_address=copy.sender_address,
                        subject=copy.subject,
                    )
                )
            await uow.commit()
        return now

    async def unread_counts(
        self, mailbox: str, conversation_ids: Sequence[str] | None = None
    ) -> UnreadCounts:
        """Over the whole mailbox, or over the conversations asked for (a page of them)."""
        mailbox = mailbox_address(mailbox)
        if conversation_ids is not None:
            # An id no conversation can have has nothing unread.
            conversation_ids = [c for c in conversation_ids if could_be_id(c)]
        async with self.reader() as repos:
            counts = await repos.messages.unread_counts(mailbox, conversation_ids)
        return UnreadCounts(sum(counts.values()), counts)
