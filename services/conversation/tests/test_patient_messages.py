"""A patient replies, or starts a conversation where DOMAIN.md allows it."""

from __future__ import annotations

from mes_contracts.events.conversation import ConversationOpened, MessageAccepted
from mes_contracts.events.identity import PatientState
from mes_conversation.testing import (
    DOCTOR,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    PHARMACY,
    UNREGISTERED,
    address_of,
)


async def test_patient_replies_in_an_open_conversation(harness):
    opened = (await harness.send(subject="Résultats")).json()
    r = await harness.reply(opened["conversation_id"])
    assert r.status_code == 202
    body = r.json()
    assert (body["conversation_id"], body["status"]) == (opened["conversation_id"], "accepted")
    reply = (await harness.events(MessageAccepted.SUBJECT))[-1].payload_as(MessageAccepted)
    assert reply.message_id == body["message_id"]
    assert reply.sender.model_dump() == {
        "address": address_of(PATIENT),
        "kind": "patient",
        "display_name": "Marie Dupont",
    }
    assert reply.recipient.address == DOCTOR and reply.recipient.kind == "professional"
    assert reply.subject == "Re: Résultats"


async def test_reply_subject_is_kept_or_not_doubled(harness):
    opened = (await harness.send(subject="Re: Résultats")).json()
    await harness.reply(opened["conversation_id"])
    await harness.reply(opened["conversation_id"], subject="Question")
    subjects = [e.payload["subject"] for e in await harness.events(MessageAccepted.SUBJECT)]
    assert subjects == ["Re: Résultats", "Re: Résultats", "Question"]


async def test_reply_after_fin_is_refused_with_the_notice(harness):
    opened = (await harness.send()).json()
    await harness.send(subject="[FIN]")
    before = len(await harness.events())
    r = await harness.reply(opened["conversation_id"])
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "conversation_closed"
    assert problem["detail"] == "Dr Martin a mis fin à vos échanges."
    assert problem["closed_by"] == DOCTOR
    assert len(await harness.events()) == before


async def test_another_patients_conversation_is_not_found(harness):
    opened = (await harness.send()).json()
    cid = opened["conversation_id"]
    r = await harness.reply(cid, ins=OTHER_PATIENT)
    assert (r.status_code, r.json()["code"]) == (404, "conversation_not_found")
    r = await harness.client.get(f"/internal/patients/{OTHER_PATIENT}/conversations/{cid}")
    assert (r.status_code, r.json()["code"]) == (404, "conversation_not_found")
    assert "Dr Martin" not in r.text and DOCTOR not in r.text
    r = await harness.reply("no-such-conversation")
    assert (r.status_code, r.json()["code"]) == (404, "conversation_not_found")


async def test_inactive_profile_cannot_reply(harness):
    opened = (await harness.send()).json()
    harness.resolver.patient(PATIENT, PatientState.CLOSED)
    r = await harness.reply(opened["conversation_id"])
    assert (r.status_code, r.json()["code"]) == (403, "patient_profile_inactive")


async def test_invalid_ins_in_path(harness):
    r = await harness.reply("x", ins="279035121518900")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_ins")


async def test_patient_idempotency_key(harness):
    opened = (await harness.send()).json()
    key = {"Idempotency-Key": "p-1"}
    first = await harness.reply(opened["conversation_id"], headers=key)
    again = await harness.reply(opened["conversation_id"], headers=key)
    assert again.json() == first.json() and again.status_code == 202
    assert len(await harness.events(MessageAccepted.SUBJECT)) == 2  # the doctor's + one reply
    start = await harness.start(PHARMACY, headers={"Idempotency-Key": "p-2"})
    again = await harness.start(PHARMACY, headers={"Idempotency-Key": "p-2"})
    assert start.status_code == again.status_code == 201 and start.json() == again.json()
    assert len(await harness.events(ConversationOpened.SUBJECT)) == 2


async def test_activated_patient_writes_to_a_pharmacy(harness):
    r = await harness.start(PHARMACY, subject="Ordonnance")
    assert r.status_code == 201
    body = r.json()
    opened, accepted = await harness.events()
    assert opened.payload["opened_by"] == address_of(PATIENT)
    assert opened.payload["correspondent"]["kind"] == "pharmacy"
    message = accepted.payload_as(MessageAccepted)
    assert message.conversation_id == body["conversation_id"]
    assert message.recipient.address == PHARMACY and message.sender.kind == "patient"


async def test_pharmacy_exception_survives_the_pharmacys_fin(harness):
    first = (await harness.start(PHARMACY)).json()
    await harness.send(**{"from": PHARMACY}, subject="[FIN]", in_reply_to=first["message_id"])
    view = (await harness.client.get(f"/internal/conversations/{first['conversation_id']}")).json()
    assert view["state"] == "closed"
    assert view["closed_notice"] == "Pharmacie Centrale a mis fin à vos échanges."
    again = await harness.start(PHARMACY, subject="Nouvelle ordonnance")
    assert again.status_code == 201
    assert again.json()["conversation_id"] != first["conversation_id"]


async def test_pharmacy_needs_an_activated_profile(harness):
    r = await harness.start(PHARMACY, ins=OTHER_PATIENT)  # profile created, not activated
    assert (r.status_code, r.json()["code"]) == (403, "patient_not_activated")


async def test_patient_cannot_contact_a_professional_of_their_choice(harness):
    r = await harness.start(DOCTOR)
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    r = await harness.start(UNREGISTERED)
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    r = await harness.start(address_of(OTHER_PATIENT))
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    assert await harness.events() == []


async def test_patient_writes_again_to_a_professional_who_wrote_and_did_not_close(harness):
    first = (await harness.send(**{"from": OTHER_DOCTOR})).json()
    r = await harness.start(OTHER_DOCTOR, subject="Une question", ins=PATIENT)
    assert r.status_code == 201
    assert r.json()["conversation_id"] != first["conversation_id"]
    # Not for another patient, to whom that doctor never wrote.
    r = await harness.start(OTHER_DOCTOR, ins=OTHER_PATIENT)
    assert r.json()["code"] == "initiation_not_allowed"


async def test_not_after_the_professional_ended_the_exchange(harness):
    await harness.send()
    await harness.send(subject="[FIN]")
    r = await harness.start(DOCTOR)
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    # A new message from the doctor reopens the possibility.
    await harness.send(subject="Nouveau")
    assert (await harness.start(DOCTOR)).status_code == 201


async def test_patient_start_validates_input(harness):
    r = await harness.start(PHARMACY, subject="a\r\nb")
    assert r.json()["code"] == "invalid_subject"
    r = await harness.start("not an address")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_recipient")
