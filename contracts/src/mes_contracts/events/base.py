"""What every event payload shares: immutability, no unknown fields, a subject."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

__all__ = ["SUBJECT_PATTERN", "EventPayload", "UtcDatetime", "service_of"]

# mes.<service>.<entity>.<event>.v<N>; the event is in the past tense (it happened).
SUBJECT_PATTERN = re.compile(r"^mes\.[a-z-]+\.[a-z_]+\.[a-z_]+\.v[0-9]+$")


def _to_utc(value: datetime) -> datetime:
    # Consumers compare and store instants; one offset everywhere avoids surprises.
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An aware datetime, converted to UTC; naive datetimes are refused."""


class EventPayload(BaseModel):
    """Base of every event payload.

    Frozen because an event is a fact; ``extra="forbid"`` so that a producer's typo fails
    at the producer rather than silently at a consumer. A breaking change is a new class
    with a new ``SUBJECT`` version, never an edit of a published one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    SUBJECT: ClassVar[str]


def service_of(subject: str) -> str:
    """Return the producing service named by a subject (``mes.<service>....``)."""
    if not SUBJECT_PATTERN.fullmatch(subject):
        raise ValueError(f"not an event subject: {subject!r}")
    return subject.split(".")[1]
