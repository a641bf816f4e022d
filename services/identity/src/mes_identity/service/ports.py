"""What the identity use cases need from storage, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, Self

from mes_contracts.events import EventEnvelope, EventPayload

from ..domain.model import PatientProfile

__all__ = [
    "IdentityUoW",
    "PatientRepository",
    "ProfileAlreadyExists",
    "RepositoryReader",
]


class ProfileAlreadyExists(Exception):
    """Two creations of one profile raced; the loser may start again and find it."""


class PatientRepository(Protocol):
    async def get(self, ins: str, *, for_update: bool = False) -> PatientProfile | None: ...
    async def add(self, profile: PatientProfile) -> None: ...
    async def save(self, profile: PatientProfile) -> None: ...


class IdentityUoW(Protocol):
    @property
    def patients(self) -> PatientRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def emit(self, payload: EventPayload) -> EventEnvelope: ...
    async def commit(self) -> None: ...


RepositoryReader = Callable[[], AbstractAsyncContextManager[PatientRepository]]
