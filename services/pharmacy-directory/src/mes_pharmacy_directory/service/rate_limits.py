"""Counters shared by every gateway process: the abuse control of the patient -> pharmacy
channel (per patient, per pharmacy), kept in this service's database."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import time

from .ports import PharmacyUoW

__all__ = ["RateDecision", "RateLimiter", "RateRule"]


@dataclass(frozen=True)
class RateRule:
    key: str
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0
    refused_key: str | None = None


class RateLimiter:
    def __init__(
        self, uow_factory: Callable[[], PharmacyUoW], clock: Callable[[], float] = time
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    async def consume(self, rules: Sequence[RateRule]) -> RateDecision:
        """One step on every rule's counter of its current fixed window, in one transaction:
        when any is over its limit, nothing is counted (the transaction is not committed) and
        the caller is told when that window ends."""
        now = self.clock()
        async with self.uow_factory() as uow:
            for rule in rules:
                start = int(now // rule.window_seconds) * rule.window_seconds
                count = await uow.pharmacies.count_up(rule.key, start)
                if count > rule.limit:
                    wait = max(1, math.ceil(start + rule.window_seconds - now))
                    return RateDecision(False, wait, rule.key)
                if count == 1:
                    await uow.pharmacies.forget_windows_before(rule.key, start)
            await uow.commit()
        return RateDecision(True)
