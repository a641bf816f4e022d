"""What the use cases need from storage, as Protocols; ``adapters`` implements them and
``main`` wires them in, so this layer never imports an adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from mes_platform.idempotency import IdempotencyStore
from mes_platform.ports import UnitOfWorkPort

from ..domain.attachments import StoredAttachment
from ..domain.documents import Document
from ..domain.messages import Cursor, Folder, MessageCopy

__all__ = [
    "AttachmentRepository",
    "BlobStorage",
    "ChunkSink",
    "DocumentRepository",
    "MailboxUnitOfWork",
    "MessageRepository",
    "PendingBlob",
    "ReadSide",
    "Repositories",
    "UnitOfWorkFactory",
]


class MessageRepository(Protocol):
    async def add_copies(self, copies: Sequence[MessageCopy], now: datetime) -> None: ...

    async def get(self, mailbox: str, message_id: str) -> MessageCopy | None: ...

    async def page(
        self,
        mailbox: str,
        *,
        folder: Folder | None,
        conversation_id: str | None,
        after: Cursor | None,
        limit: int,
    ) -> list[MessageCopy]: ...

    async def mark_read(self, mailbox: str, message_id: str, at: datetime) -> bool: ...

    async def unread_counts(
        self, mailbox: str, conversation_ids: Sequence[str] | None = None
    ) -> dict[str, int]: ...


class AttachmentRepository(Protocol):
    async def add(self, a: StoredAttachment) -> None: ...

    async def usable_by(self, mailbox: str, ids: Iterable[str]) -> dict[str, StoredAttachment]: ...


class DocumentRepository(Protocol):
    async def add(self, d: Document) -> None: ...

    async def of_owner(
        self, owner: str, ids: Iterable[str], *, lock: bool = False
    ) -> dict[str, Document]: ...

    async def page(self, owner: str, *, after: Cursor | None, limit: int) -> list[Document]: ...

    async def remove(self, owner: str, document_id: str) -> Document | None: ...

    async def bytes_in_use(self, sha256: str) -> bool: ...


class Repositories(Protocol):
    @property
    def messages(self) -> MessageRepository: ...

    @property
    def attachments(self) -> AttachmentRepository: ...

    @property
    def documents(self) -> DocumentRepository: ...


class MailboxUnitOfWork(Repositories, UnitOfWorkPort, Protocol):
    """The repositories, in one write transaction with its events."""

    @property
    def idempotency(self) -> IdempotencyStore: ...


UnitOfWorkFactory = Callable[[], MailboxUnitOfWork]
# Reads outside any write transaction (autocommit connections on SQLite, beside the writer).
ReadSide = Callable[[], AbstractAsyncContextManager[Repositories]]


class ChunkSink(Protocol):
    def feed(self, chunk: bytes) -> None: ...


@dataclass(frozen=True)
class PendingBlob:
    """Bytes received and hashed, not yet in their place."""

    temp_path: Path
    sha256: str
    size: int


class BlobStorage(Protocol):
    """Blocking file I/O: the use cases call it in a worker thread."""

    def receive(self, source: BinaryIO, inspector: ChunkSink) -> PendingBlob: ...

    def commit(self, pending: PendingBlob) -> Path: ...

    def settle(self, pending: PendingBlob) -> None: ...

    def discard(self, pending: PendingBlob) -> None: ...

    def path_for(self, sha256: str) -> Path: ...

    def retire(self, sha256: str) -> Path | None: ...

    def restore(self, aside: Path, sha256: str) -> None: ...

    def purge(self, aside: Path) -> None: ...
