"""What the notifier's use cases need from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from mes_contracts.internal.notifier import NotificationState
from mes_platform.ports import UnitOfWorkPort

from ..domain.emails import OutgoingEmail
from ..domain.notifications import Notification, PatientContact

if TYPE_CHECKING:
    from .planning import Job

__all__ = [
    "MailTransport",
    "MailTransportFactory",
    "NotifierRepository",
    "NotifierUnitOfWork",
    "PushProvider",
    "ReadSide",
    "UnitOfWorkFactory",
]


class MailTransport(Protocol):
    """One connection to the relay, opened on first use and reused. ``send`` returns once the
    relay accepted the message (its ``250``); it raises ``DeliveryDeferred`` or
    ``DeliveryRefused``."""

    async def send(self, email: OutgoingEmail) -> None: ...

    async def close(self) -> None: ...


class MailTransportFactory(Protocol):
    def __call__(self) -> MailTransport: ...


class PushProvider(Protocol):
    """Sends one push to one device token; raises ``TokenUnregistered``, ``DeliveryRefused``
    or ``DeliveryDeferred``."""

    async def push(self, token: str, title: str, body: str, data: Mapping[str, str]) -> None: ...

    async def close(self) -> None: ...


class NotifierRepository(Protocol):
    async def add(self, items: Sequence[Notification]) -> None: ...

    async def add_claimed(self, items: Sequence[Notification], lease_until: datetime) -> set[str]:
        """Queue ``items`` already claimed until ``lease_until``; returns the ids written (an
        id present stays as it is, and is not the caller's to send)."""

    async def save_contact(self, contact: PatientContact) -> None: ...

    async def contact(self, ins: str) -> PatientContact | None: ...

    async def contacts(self, ins: Iterable[str]) -> dict[str, PatientContact]: ...

    async def save_mailbox(self, address: str, type_: str, alert_email: str | None) -> None: ...

    async def mailbox(self, address: str) -> tuple[str, str | None] | None: ...

    async def add_app_notifications(
        self, entries: Sequence[tuple[str, str, str, str, str, datetime]]
    ) -> None:
        """Entries (id, ins, message id, title, body, created at); an id present stays."""

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[dict[str, Any]]: ...

    async def record(
        self,
        ids: Iterable[str],
        state: NotificationState,
        *,
        attempted: bool,
        recipient: str | None = None,
        error: str | None = None,
        sent_at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    async def windows(self, ins: Iterable[str]) -> dict[str, datetime]: ...

    async def mark_windows(self, ins: Iterable[str], at: datetime) -> None: ...

    async def record_sent(self, sent: Sequence[tuple[str, str]], at: datetime) -> None:
        """Notifications (id, recipient) sent at ``at``, in one statement."""

    async def backlog(self) -> int: ...

    async def devices_of_many(self, ins: Iterable[str]) -> dict[str, list[dict[str, Any]]]: ...

    async def device(self, device_id: str) -> dict[str, Any] | None: ...

    async def device_by_token(self, token: str) -> dict[str, Any] | None: ...

    async def add_device(
        self, id_: str, ins: str, platform: str, token: str, at: datetime
    ) -> None: ...

    async def remove_device(self, device_id: str, ins: str | None = None) -> bool: ...

    async def app_page(
        self, ins: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]: ...

    async def unseen(self, ins: str) -> int: ...

    async def mark_seen(self, ins: str, id_: str, at: datetime) -> dict[str, Any] | None: ...

    async def records(
        self,
        recipient: str | None,
        state: NotificationState | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...


class NotifierUnitOfWork(UnitOfWorkPort, Protocol):
    @property
    def repo(self) -> NotifierRepository: ...

    def queued(self) -> None:
        """Tell the senders, once committed, that notifications wait."""

    def hand_over(self, jobs: Sequence[Job]) -> None:
        """Give ``jobs`` (claimed in this change) to the sender's lanes once committed."""


UnitOfWorkFactory = Callable[[], NotifierUnitOfWork]
ReadSide = Callable[[], AbstractAsyncContextManager[NotifierRepository]]
