"""What the use cases need from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mes_contracts.nondelivery import NonDeliveryReason
from mes_platform.errors import DomainError
from mes_platform.idempotency import IdempotencyStore, StoredResponse
from mes_platform.ports import UnitOfWorkPort

from ..domain.model import Conversation, ConversationState, DirectoryEntry, PatientResolution

__all__ = [
    "ConcurrentWrite",
    "ConversationReader",
    "ConversationRepository",
    "ConversationUnitOfWork",
    "DependencyUnavailable",
    "IdempotencyStore",
    "LoggedMessage",
    "MailboxDirectory",
    "MessageLog",
    "PageCursor",
    "PatientResolver",
]


class DependencyUnavailable(DomainError):
    """Identity or the directory did not answer: nothing was decided, the caller may retry."""

    status = 503
    code = "dependency_unavailable"
    title = "A service this decision depends on is unavailable"


class ConcurrentWrite(Exception):
    """Another transaction changed the same rows first; the use case runs again."""


class PatientResolver(Protocol):
    async def resolve(self, address: str) -> PatientResolution:
        """Whether a message to this address is deliverable; raises DependencyUnavailable."""
        ...

    def forget(self, address: str) -> None:
        """The patient's profile changed: the next resolution asks identity again."""
        ...


class MailboxDirectory(Protocol):
    async def get(self, address: str) -> DirectoryEntry | None:
        """The directory's entry for a health actor's mailbox, None if it has none."""
        ...


@dataclass(frozen=True)
class LoggedMessage:
    message_id: str
    conversation_id: str | None
    sender_address: str
    recipient_address: str
    subject: str
    status: str  # accepted | bounced
    bounce_reason: NonDeliveryReason | None
    created_at: datetime


@dataclass(frozen=True)
class PageCursor:
    """Keyset position: the last item of the previous page."""

    last_activity_at: datetime
    id: str


class ConversationRepository(Protocol):
    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def latest_open_with(
        self, patient_ins: str, correspondent: str
    ) -> Conversation | None: ...

    async def open_between(self, patient_ins: str, correspondent: str) -> list[Conversation]:
        """Every conversation still open between this patient and this health actor."""
        ...

    async def latest_with(self, patient_ins: str, correspondent: str) -> Conversation | None: ...

    async def add(self, conversation: Conversation) -> None: ...

    async def save(self, conversation: Conversation) -> bool:
        """Write a change to a conversation that was open when read; False if it no longer is."""
        ...

    async def lock_pair(self, patient_ins: str, correspondent: str) -> None:
        """Serialise writers deciding about the same patient and correspondent."""
        ...

    async def idle_since(self, cutoff: datetime, limit: int) -> list[Conversation]: ...

    async def close_if_idle(self, conversation: Conversation, cutoff: datetime) -> bool: ...


class MessageLog(Protocol):
    async def record(self, message: LoggedMessage) -> None: ...

    async def conversation_of(self, message_id: str) -> str | None: ...


class ConversationUnitOfWork(UnitOfWorkPort, Protocol):
    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def messages(self) -> MessageLog: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...


class ConversationReader(Protocol):
    """Queries on committed data, outside any write transaction."""

    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def for_patient(
        self,
        patient_ins: str,
        state: ConversationState | None,
        after: PageCursor | None,
        limit: int,
    ) -> list[Conversation]: ...

    async def for_correspondent(
        self, address: str, state: ConversationState | None, after: PageCursor | None, limit: int
    ) -> list[Conversation]: ...

    async def latest_open_per_correspondent(self, patient_ins: str) -> list[Conversation]: ...

    async def replayed(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None: ...
