"""What the identity use cases need from storage, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from mes_platform.ports import UnitOfWorkPort

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


class IdentityUoW(UnitOfWorkPort, Protocol):
    @property
    def patients(self) -> PatientRepository: ...


RepositoryReader = Callable[[], AbstractAsyncContextManager[PatientRepository]]
