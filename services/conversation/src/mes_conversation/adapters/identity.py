"""The identity service, asked whether a patient address is deliverable."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from mes_contracts.events.identity import PatientState
from mes_platform.cache import ExpiringCache
from mes_platform.clients import path_segment

from ..domain.model import PatientResolution, ResolutionStatus
from ..service.ports import DependencyUnavailable

__all__ = ["HttpPatientResolver"]


class HttpPatientResolver:
    """``GET /internal/resolutions/{address}`` on identity.

    Only "deliverable" answers are cached, briefly: resolution is on every message's path, and
    a profile that has just been closed or opposed must stop receiving within seconds, while a
    refusal is cheap to ask again.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        cache_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: ExpiringCache[str, PatientResolution] = ExpiringCache(clock=clock)

    async def resolve(self, address: str) -> PatientResolution:
        hit = self._cache.get(address)
        if hit is not None:
            return hit
        try:
            response = await self.client.get(f"/internal/resolutions/{path_segment(address)}")
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(
                "The identity service cannot be reached.", dependency="identity"
            ) from exc
        if response.status_code != 200:
            raise DependencyUnavailable(
                f"The identity service answered {response.status_code}.", dependency="identity"
            )
        data = response.json()
        resolution = PatientResolution(
            address=data["address"],
            status=ResolutionStatus(data["status"]),
            ins=data.get("ins"),
            display_name=data.get("display_name"),
            state=PatientState(data["state"]) if data.get("state") else None,
        )
        if resolution.deliverable and self.cache_seconds > 0:
            self._cache.put(address, resolution, self.clock() + self.cache_seconds)
        return resolution

    async def aclose(self) -> None:
        await self.client.aclose()
