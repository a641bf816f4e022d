"""Admissions answer what became of the message; the routes choose how it reads over HTTP.

A replay with the same Idempotency-Key is told apart from the first admission (nothing was done
again), and answers as it did: keys kept before outcomes existed included, on both engines.
"""

from __future__ import annotations

from mes_contracts.events.conversation import MessageAccepted
from mes_contracts.nondelivery import NonDeliveryReason
from mes_conversation.domain.outcomes import Admitted, Bounced, Replayed
from mes_conversation.service.common import Idempotency, fingerprint_of
from mes_conversation.service.health_actors import HealthActorMessage, HealthActorMessages
from mes_conversation.service.patients import PatientStart
from mes_conversation.testing import CLOSED_PATIENT, DOCTOR, PATIENT, PHARMACY, address_of
from mes_platform.idempotency import remember


def _message(to: str) -> HealthActorMessage:
    return HealthActorMessage(
        sender=DOCTOR, recipient=to, subject="Résultats", body="Bonjour.", sent_by="professional"
    )


async def test_a_replay_is_the_first_outcome_and_admits_nothing_more(any_db_harness):
    service: HealthActorMessages = any_db_harness.app.state.health_actor_messages
    message = _message(address_of(PATIENT))
    key = Idempotency("k-outcome", fingerprint_of("send", message))
    first = await service.send(message, key)
    assert isinstance(first, Admitted)
    again = await service.send(message, key)
    assert again == Replayed(first)
    assert len(await any_db_harness.events(MessageAccepted.SUBJECT)) == 1
    # Over HTTP, the message the gateway sent is found under the same id.
    listed = await any_db_harness.client.get(f"/internal/patients/{PATIENT}/conversations")
    assert [c["id"] for c in listed.json()["items"]] == [first.conversation_id]


async def test_a_bounce_is_an_outcome_with_its_french_report(any_db_harness):
    service: HealthActorMessages = any_db_harness.app.state.health_actor_messages
    message = _message(address_of(CLOSED_PATIENT))
    key = Idempotency("k-bounce", fingerprint_of("send", message))
    first = await service.send(message, key)
    assert isinstance(first, Bounced)
    assert first.reason is NonDeliveryReason.CLOSED
    assert address_of(CLOSED_PATIENT) in first.report_text
    assert await service.send(message, key) == Replayed(first)


async def test_a_key_kept_before_outcomes_existed_replays_the_same_answer(any_db_harness):
    """Keys stored with the answer's status still answer it, with the route's status."""
    start = PatientStart(ins=PATIENT, recipient=PHARMACY, subject="Ordonnance", body="Bonjour.")
    stored = {
        "message_id": "m-kept",
        "conversation_id": "c-kept",
        "status": "accepted",
        "bounce_reason": None,
        "report_text": None,
    }
    async with any_db_harness.app.state.runtime.db.transaction() as conn:
        await remember(
            conn, "patient:" + PATIENT, "k-kept", fingerprint_of("start", start), 201, stored
        )
    r = await any_db_harness.start(PHARMACY, headers={"Idempotency-Key": "k-kept"})
    assert (r.status_code, r.json()) == (201, stored)
    assert await any_db_harness.events(MessageAccepted.SUBJECT) == []
