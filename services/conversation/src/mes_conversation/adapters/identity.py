"""The identity service, asked whether a patient address is deliverable."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
from nats.aio.msg import Msg
from pydantic import ValidationError

from mes_contracts import EventEnvelope
from mes_contracts.addresses import PatientAddress
from mes_contracts.internal.identity import AddressResolutionOut
from mes_platform.bus import EventBus, PlainSubscription
from mes_platform.cache import ExpiringCache
from mes_platform.clients import path_segment

from ..domain.model import PatientResolution, ResolutionStatus
from ..service.ports import DependencyUnavailable

__all__ = ["PATIENT_CHANGES", "HttpPatientResolver", "PatientUpdates"]

log = logging.getLogger(__name__)

# Every kind of patient profile change (created, updated, activated, opposed, closed).
PATIENT_CHANGES = "mes.identity.patient.>"


class HttpPatientResolver:
    """``GET /internal/resolutions/{address}`` on identity.

    Only "deliverable" answers are cached: resolution is on every message's path, and a
    refusal is cheap to ask again. A profile that has just been closed or opposed must stop
    receiving at once: while :class:`PatientUpdates` receives identity's profile changes
    (``watched``), a change drops the patient's answer when it happens and answers are kept
    ``cache_seconds``; otherwise only ``unwatched_cache_seconds``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        cache_seconds: float = 2.0,
        unwatched_cache_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cache_seconds = cache_seconds
        self.unwatched_cache_seconds = unwatched_cache_seconds
        self.clock = clock
        self.watched: Callable[[], bool] = lambda: False
        self._cache: ExpiringCache[str, PatientResolution] = ExpiringCache(clock=clock)
        # Bumped by every change heard of: an answer asked before it is not kept.
        self._generation = 0

    def forget(self, address: str) -> None:
        """The patient's profile changed: the next message asks identity again."""
        self._generation += 1
        self._cache.forget(address)

    def forget_all(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def resolve(self, address: str) -> PatientResolution:
        hit = self._cache.get(address)
        if hit is not None:
            return hit
        generation = self._generation
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
        try:
            answer = AddressResolutionOut.model_validate_json(response.content)
        except ValidationError as exc:
            raise DependencyUnavailable(
                "The identity service answered an unreadable resolution.", dependency="identity"
            ) from exc
        resolution = PatientResolution(
            address=answer.address,
            status=ResolutionStatus(answer.status),
            ins=answer.ins,
            display_name=answer.display_name,
            state=answer.state,
        )
        keep = self.cache_seconds if self.watched() else self.unwatched_cache_seconds
        if resolution.deliverable and keep > 0 and generation == self._generation:
            self._cache.put(address, resolution, self.clock() + keep)
        return resolution

    async def aclose(self) -> None:
        await self.client.aclose()


class PatientUpdates:
    """Drops a patient's cached resolution as soon as identity publishes a change of the
    profile.

    A plain subscription, as every replica keeps its own cache. Changes sent while this
    service was disconnected from NATS are not received, so every disconnection and
    reconnection empties the cache, and answers are kept only briefly until the subscription
    is live again.
    """

    def __init__(self, bus: EventBus, resolver: HttpPatientResolver) -> None:
        self.resolver = resolver
        self.subscription = PlainSubscription(
            bus,
            PATIENT_CHANGES,
            self._on_message,
            name="conversation-patient-updates",
            on_gap=resolver.forget_all,
        )

    def start(self) -> None:
        self.resolver.watched = self.subscription.live
        self.subscription.start()

    async def _on_message(self, msg: Msg) -> None:
        try:
            payload = EventEnvelope.from_json_bytes(msg.data).payload
            address = PatientAddress.for_ins(str(payload["ins"])).format()
        except Exception:  # a malformed event must not stop the subscription
            log.warning("unreadable patient profile event: every answer dropped", exc_info=True)
            self.resolver.forget_all()
            return
        self.resolver.forget(address)

    async def stop(self) -> None:
        self.resolver.watched = lambda: False
        await self.subscription.stop()
