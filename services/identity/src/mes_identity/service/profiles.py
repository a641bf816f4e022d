"""Use cases of the identity service."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mes_contracts.events.identity import (
    PatientActivated,
    PatientClosed,
    PatientCreated,
    PatientOpposed,
    PatientProfileChanged,
    PatientState,
    PatientUpdated,
)

from ..domain.model import (
    PatientNames,
    PatientProfile,
    ProfileChange,
    Resolution,
    parse_patient_address,
    resolve_for_profile,
)
from .ports import IdentityUoW, ProfileAlreadyExists, RepositoryReader

__all__ = ["ProfileService", "UpsertProfile"]

_EVENTS: dict[ProfileChange, type[PatientProfileChanged]] = {
    ProfileChange.CREATED: PatientCreated,
    ProfileChange.UPDATED: PatientUpdated,
    ProfileChange.ACTIVATED: PatientActivated,
    ProfileChange.OPPOSED: PatientOpposed,
    ProfileChange.CLOSED: PatientClosed,
}


@dataclass(frozen=True)
class UpsertProfile:
    ins: str
    state: PatientState
    birth_name: str
    first_names: str
    display_name: str | None
    email: str | None
    app_installed: bool | None


class ProfileService:
    """Profiles are loaded by ops; resolution answers "may a message go to this address?".

    Resolution is on every message's path, so profiles are cached in memory for
    ``cache_seconds``; this process's own writes take effect at once (they drop the entry, and
    a read they overtook is not kept), another replica's within ``cache_seconds``.
    """

    def __init__(
        self,
        uow_factory: Callable[[], IdentityUoW],
        reader: RepositoryReader,
        cache_seconds: float = 5.0,
    ) -> None:
        self.uow_factory = uow_factory
        self.reader = reader
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, PatientProfile | None]] = {}
        self._writes = 0  # committed upserts of this process, to spot reads they overtook

    async def upsert(self, command: UpsertProfile) -> tuple[PatientProfile, ProfileChange]:
        """Create or update a profile; emits the event that names the change, none if nothing
        changed (a replayed PUT changes nothing)."""
        try:
            return await self._upsert(command)
        except ProfileAlreadyExists:
            # A concurrent PUT created it between our read and our insert: now it is there,
            # and this PUT is an update (or nothing) like any other.
            return await self._upsert(command)

    async def _upsert(self, command: UpsertProfile) -> tuple[PatientProfile, ProfileChange]:
        names = PatientNames.given(
            birth_name=command.birth_name,
            first_names=command.first_names,
            display_name=command.display_name,
        )
        async with self.uow_factory() as uow:
            current = await uow.patients.get(command.ins, for_update=True)
            wanted = PatientProfile(
                ins=command.ins,
                state=command.state,
                birth_name=names.birth_name,
                first_names=names.first_names,
                display_name=names.display_name,
                email=command.email,
                app_installed=(
                    command.app_installed
                    if command.app_installed is not None
                    else (current.app_installed if current else False)
                ),
            )
            if current is None:
                change = ProfileChange.CREATED
                await uow.patients.add(wanted)
            else:
                change = current.with_changes(wanted)
                if change is not ProfileChange.NONE:
                    await uow.patients.save(wanted)
            if change is not ProfileChange.NONE:
                uow.emit(
                    _EVENTS[change](
                        ins=wanted.ins,
                        state=wanted.state,
                        previous_state=current.state if current else None,
                        birth_name=wanted.birth_name,
                        first_names=wanted.first_names,
                        display_name=wanted.display_name,
                        email=wanted.email,
                        app_installed=wanted.app_installed,
                    )
                )
            await uow.commit()
        # Forget rather than store: two concurrent writers may get here in either order.
        self._writes += 1
        self._cache.pop(wanted.ins, None)
        return wanted, change

    async def get(self, ins: str) -> PatientProfile | None:
        hit = self._cache.get(ins)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        writes_before = self._writes
        async with self.reader() as repository:
            profile = await repository.get(ins)
        if self._writes != writes_before:
            # A write of this process ended while we read: what we read may predate it and
            # must not be kept, or resolution would answer from before the write.
            return profile
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[ins] = (time.monotonic() + self.cache_seconds, profile)
        return profile

    async def resolve(self, address: str) -> Resolution:
        parsed = parse_patient_address(address)
        if isinstance(parsed, Resolution):
            return parsed
        return resolve_for_profile(parsed.format(), parsed.ins, await self.get(parsed.ins))
