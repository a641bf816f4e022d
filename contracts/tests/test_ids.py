"""The ids the services create: UUIDs version 7, which sort in the order they were made."""

from __future__ import annotations

import time
import uuid

from mes_contracts import EventEnvelope
from mes_contracts.ids import new_id


def test_an_id_is_a_canonical_uuid_version_7() -> None:
    made = new_id()
    parsed = uuid.UUID(made)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == made  # the one spelling de-duplication compares


def test_an_id_starts_with_the_milliseconds_it_was_made_at() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= uuid.UUID(made).int >> 80 <= after


def test_ids_made_later_sort_after_as_text_and_as_uuids() -> None:
    first = new_id()
    time.sleep(0.002)  # the next millisecond at least
    second = new_id()
    assert first < second
    assert uuid.UUID(first) < uuid.UUID(second)


def test_ids_made_in_one_burst_are_all_different() -> None:
    burst = [new_id() for _ in range(20_000)]
    assert len(set(burst)) == len(burst)


def test_events_are_numbered_in_the_order_they_happen() -> None:
    earlier = EventEnvelope(
        type="mes.identity.patient.created.v1", correlation_id="r", producer="identity", payload={}
    )
    time.sleep(0.002)
    later = EventEnvelope(
        type="mes.identity.patient.created.v1", correlation_id="r", producer="identity", payload={}
    )
    assert earlier.id < later.id
