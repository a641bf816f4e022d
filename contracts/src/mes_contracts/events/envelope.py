"""The envelope every event travels in on NATS JetStream."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mes_contracts.events.base import SUBJECT_PATTERN, EventPayload, UtcDatetime, service_of
from mes_contracts.events.registry import payload_model_for
from mes_contracts.ids import new_id

__all__ = ["EventEnvelope"]

P = TypeVar("P", bound=EventPayload)


def _canonical_uuid(value: str) -> str:
    # The id is the JetStream Nats-Msg-Id: one spelling per event, or de-duplication misses.
    return str(uuid.UUID(value))


def _subject(value: str) -> str:
    if not SUBJECT_PATTERN.fullmatch(value):
        raise ValueError(f"type must look like mes.<service>.<entity>.<event>.v<N>: {value!r}")
    return value


class EventEnvelope(BaseModel):
    """An event: what happened (payload), when, who said so, and in which request.

    The payload stays a plain dict here so that an envelope can be stored, relayed and
    logged without knowing its model; ``parse_payload`` validates it when needed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, AfterValidator(_canonical_uuid)] = Field(
        default_factory=new_id,
        description="Unique event id (a UUID version 7: its first 48 bits are the time it was "
        "made); also the JetStream Nats-Msg-Id for de-duplication.",
        examples=["01a24ea7-c15a-73b8-92bf-adb9e4a3c05e"],
    )
    type: Annotated[str, AfterValidator(_subject)] = Field(
        description="Subject of the event, mes.<service>.<entity>.<event>.v<N>.",
        examples=["mes.identity.patient.created.v1"],
    )
    occurred_at: UtcDatetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When it happened (aware, UTC); naive datetimes are refused.",
        examples=["2024-05-02T09:30:00Z"],
    )
    correlation_id: str = Field(
        min_length=1,
        description="Id of the request that caused it (X-Request-ID), for tracing.",
        examples=["req-6f1d2c"],
    )
    producer: str = Field(
        min_length=1, description="Service that published it.", examples=["identity"]
    )
    payload: dict[str, Any] = Field(
        description="The event's data; its schema is given by the type.",
        examples=[{"ins": "279035121518989", "state": "created"}],
    )

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        correlation_id: str,
        producer: str | None = None,
        occurred_at: datetime | None = None,
        event_id: str | None = None,
    ) -> EventEnvelope:
        """Put a payload in an envelope; the type comes from the payload's class.

        ``producer`` defaults to the service named in the subject.
        """
        subject = payload.SUBJECT
        fields: dict[str, Any] = {
            "type": subject,
            "correlation_id": correlation_id,
            "producer": producer if producer is not None else service_of(subject),
            "payload": payload.model_dump(mode="json"),
        }
        if occurred_at is not None:
            fields["occurred_at"] = occurred_at
        if event_id is not None:
            fields["id"] = event_id
        return cls.model_validate(fields)

    def parse_payload(self) -> EventPayload:
        """Validate the payload against the model registered for this type.

        Raises UnknownEventTypeError for an unregistered type, ValidationError for a bad
        payload.
        """
        return payload_model_for(self.type).model_validate(self.payload)

    def payload_as(self, model: builtins.type[P]) -> P:
        """Validate the payload as ``model``, checking that the type is that model's."""
        if self.type != model.SUBJECT:
            raise TypeError(f"envelope of type {self.type} does not carry {model.__name__}")
        return model.model_validate(self.payload)

    def to_json_bytes(self) -> bytes:
        """Serialise for the wire (UTF-8 JSON)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> EventEnvelope:
        """Parse an envelope received from the wire."""
        return cls.model_validate_json(data)
