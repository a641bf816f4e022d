"""JetStream streams: one per producing service, holding every subject it publishes.

One stream per producer keeps ownership plain (only identity writes to MES_IDENTITY) and
lets each service's retention and replication be tuned without touching the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from mes_contracts.events.base import service_of

__all__ = ["STREAMS", "StreamSpec", "stream_for_subject"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A JetStream stream as the services declare it."""

    name: str
    subjects: tuple[str, ...]
    description: str


def _stream(service: str, description: str) -> StreamSpec:
    return StreamSpec(f"MES_{service.upper()}", (f"mes.{service}.>",), description)


STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        _stream("identity", "Patient profile changes."),
        _stream("conversation", "Message admission, bounces, conversations opened and closed."),
        _stream("mailbox", "Mailbox activity: messages read."),
        _stream("directory", "MSSanté mailbox directory changes."),
    )
}

_BY_SERVICE = {spec.subjects[0].split(".")[1]: spec.name for spec in STREAMS.values()}


def stream_for_subject(subject: str) -> str:
    """Return the name of the stream that stores a subject; ValueError if none does."""
    service = service_of(subject)
    try:
        return _BY_SERVICE[service]
    except KeyError:
        raise ValueError(f"no stream holds subjects of service {service!r}") from None
