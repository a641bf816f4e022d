"""Event envelope, payload registry, subjects and streams."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mes_contracts.events import (
    EVENT_TYPES,
    STREAMS,
    EventEnvelope,
    EventPayload,
    MessageAccepted,
    PatientActivated,
    PatientCreated,
    UnknownEventTypeError,
    payload_model_for,
    stream_for_subject,
)

SUBJECT_RE = re.compile(r"^mes\.[a-z-]+\.[a-z_]+\.[a-z_]+\.v\d+$")


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """Build a payload from the first example of every field (they must all validate)."""
    return {name: field.examples[0] for name, field in model.model_fields.items() if field.examples}


def sample(model: type[EventPayload]) -> EventPayload:
    return model.model_validate(example_of(model))


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


def test_registry_covers_every_payload_class() -> None:
    concrete = {c for c in all_subclasses(EventPayload) if "SUBJECT" in vars(c)}
    assert concrete == set(EVENT_TYPES.values())
    for subject, model in EVENT_TYPES.items():
        assert subject == model.SUBJECT
        assert payload_model_for(subject) is model


def test_expected_subjects() -> None:
    assert set(EVENT_TYPES) == {
        "mes.identity.patient.created.v1",
        "mes.identity.patient.updated.v1",
        "mes.identity.patient.activated.v1",
        "mes.identity.patient.opposed.v1",
        "mes.identity.patient.closed.v1",
        "mes.directory.mailbox.registered.v1",
        "mes.conversation.message.accepted.v1",
        "mes.conversation.message.bounced.v1",
        "mes.conversation.conversation.opened.v1",
        "mes.conversation.conversation.closed.v1",
        "mes.mailbox.message.read.v1",
    }


@pytest.mark.parametrize("subject", sorted(EVENT_TYPES))
def test_subject_naming(subject: str) -> None:
    assert SUBJECT_RE.match(subject)


@pytest.mark.parametrize("model", list(EVENT_TYPES.values()), ids=lambda m: m.__name__)
def test_every_field_is_documented_with_an_example(model: type[EventPayload]) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        assert field.examples, f"{model.__name__}.{name} has no example"
    assert model.model_config.get("frozen") and model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("model", list(EVENT_TYPES.values()), ids=lambda m: m.__name__)
def test_envelope_json_round_trip(model: type[EventPayload]) -> None:
    payload = sample(model)
    envelope = EventEnvelope.wrap(payload, correlation_id="req-1")
    assert envelope.type == model.SUBJECT
    assert envelope.producer == model.SUBJECT.split(".")[1]
    assert uuid.UUID(envelope.id).version == 7
    assert envelope.occurred_at.tzinfo is UTC
    wire = envelope.to_json_bytes()
    assert set(json.loads(wire)) == {
        "id",
        "type",
        "occurred_at",
        "correlation_id",
        "producer",
        "payload",
    }
    received = EventEnvelope.from_json_bytes(wire)
    assert received == envelope
    assert received.parse_payload() == payload
    assert received.payload_as(model) == payload


def test_wrap_keeps_given_id_time_and_producer() -> None:
    event_id = str(uuid.uuid4())
    at = datetime(2024, 5, 2, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    envelope = EventEnvelope.wrap(
        sample(PatientCreated),
        correlation_id="req-2",
        producer="identity-worker",
        occurred_at=at,
        event_id=event_id,
    )
    assert envelope.id == event_id
    assert envelope.occurred_at == at and envelope.occurred_at.tzinfo is UTC
    assert envelope.occurred_at.hour == 9
    assert envelope.producer == "identity-worker"


def _envelope_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "mes.identity.patient.created.v1",
        "occurred_at": datetime(2024, 5, 2, tzinfo=UTC),
        "correlation_id": "req-3",
        "producer": "identity",
        "payload": {},
    }
    return fields | changes


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        EventEnvelope(**_envelope_fields(occurred_at=datetime(2024, 5, 2)))
    with pytest.raises(ValidationError, match="timezone"):
        EventEnvelope.from_json_bytes(
            json.dumps(_envelope_fields(occurred_at="2024-05-02T09:30:00")).encode()
        )
    fields = example_of(MessageAccepted) | {"sent_at": datetime(2024, 5, 2)}
    with pytest.raises(ValidationError, match="timezone"):
        MessageAccepted(**fields)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "identity.patient.created"},
        {"type": "mes.identity.patient.created"},
        {"type": "mes.Identity.patient.created.v1"},
        {"id": "not-a-uuid"},
        {"correlation_id": ""},
        {"producer": ""},
        {"unexpected": 1},
    ],
)
def test_bad_envelopes_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventEnvelope(**_envelope_fields(**changes))


def test_envelope_id_is_canonical() -> None:
    raw = uuid.uuid4()
    envelope = EventEnvelope(**_envelope_fields(id=str(raw).upper()))
    assert envelope.id == str(raw)


def test_unknown_type_and_wrong_model() -> None:
    envelope = EventEnvelope(**_envelope_fields(type="mes.identity.patient.renamed.v9"))
    with pytest.raises(UnknownEventTypeError):
        envelope.parse_payload()
    created = EventEnvelope.wrap(sample(PatientCreated), correlation_id="r")
    with pytest.raises(TypeError):
        created.payload_as(PatientActivated)


def test_payloads_are_frozen_and_strict() -> None:
    payload = sample(PatientCreated)
    with pytest.raises(ValidationError):
        payload.display_name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PatientCreated(**example_of(PatientCreated), nickname="x")
    with pytest.raises(ValidationError, match="wrong_key"):
        PatientCreated(**(example_of(PatientCreated) | {"ins": "279035121518988"}))


def test_streams() -> None:
    assert {name: list(spec.subjects) for name, spec in STREAMS.items()} == {
        "MES_IDENTITY": ["mes.identity.>"],
        "MES_CONVERSATION": ["mes.conversation.>"],
        "MES_MAILBOX": ["mes.mailbox.>"],
        "MES_DIRECTORY": ["mes.directory.>"],
    }


@pytest.mark.parametrize("subject", sorted(EVENT_TYPES))
def test_every_subject_has_the_stream_of_its_service(subject: str) -> None:
    stream = STREAMS[stream_for_subject(subject)]
    assert any(subject.startswith(pattern.removesuffix(">")) for pattern in stream.subjects)


def test_stream_for_unknown_service() -> None:
    with pytest.raises(ValueError):
        stream_for_subject("mes.billing.invoice.sent.v1")
    with pytest.raises(ValueError):
        stream_for_subject("not a subject")
