"""What a service's use cases need of a unit of work, whatever its repositories.

Each service's ports extend :class:`UnitOfWorkPort` with the repositories it offers; the
platform's :class:`~mes_platform.uow.UnitOfWork` implements it. Typing only: nothing here
touches a database.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from mes_contracts.events import EventEnvelope, EventPayload

__all__ = ["UnitOfWorkPort"]


class UnitOfWorkPort(Protocol):
    """``async with uow: ...; uow.emit(event); await uow.commit()``: the change and its events
    are committed together, or neither is."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def emit(self, payload: EventPayload) -> EventEnvelope: ...

    async def commit(self) -> None: ...
