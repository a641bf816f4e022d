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


async def test_a_patients_message_with_nothing_in_it_is_refused(harness):
    opened = (await harness.send()).json()
    before = len(await harness.events())
    blank_reply = await harness.reply(opened["conversation_id"], body="  \n ")
    blank_start = await harness.start(PHARMACY, subject=" ", body="\t")
    for r in (blank_reply, blank_start):
        assert (r.status_code, r.json()["code"]) == (422, "empty_message")
    assert len(await harness.events()) == before
    # A subject is enough to start one, as for a health actor.
    assert (await harness.start(PHARMACY, subject="Ordonnance", body=" ")).status_code == 201


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
    problem = r.json()
    assert (r.status_code, problem["code"], problem["reason"]) == (
        403,
        "initiation_not_allowed",
        "patient_not_activated",
    )
    assert problem["detail"] == (
        "Writing to a pharmacy requires an activated Mon espace santé profile."
    )
    assert await harness.events() == []


async def test_a_closed_profile_starts_nothing_with_the_same_code(harness):
    harness.resolver.patient(PATIENT, PatientState.CLOSED)
    r = await harness.start(PHARMACY)
    problem = r.json()
    assert (r.status_code, problem["code"], problem["reason"]) == (
        403,
        "initiation_not_allowed",
        "patient_profile_inactive",
    )
    assert (
        problem["detail"]
        == "This patient has no active Mon espace santé profile (none, closed or opposed)."
    )


async def test_patient_cannot_contact_a_professional_of_their_choice(harness):
    r = await harness.start(DOCTOR)
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    assert r.json()["reason"] == "no_open_exchange"
    r = await harness.start(UNREGISTERED)
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    r = await harness.start(address_of(OTHER_PATIENT))
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    assert r.json()["reason"] == "recipient_is_patient"
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


async def test_a_reply_to_a_subject_at_the_limit_keeps_within_it(harness):
    opened = (await harness.send(subject="S" * 998)).json()
    r = await harness.reply(opened["conversation_id"])
    assert r.status_code == 202
    reply = (await harness.events(MessageAccepted.SUBJECT))[-1].payload_as(MessageAccepted)
    assert len(reply.subject) == 998
    assert reply.subject.startswith("Re: S") and reply.subject.endswith("…")


ATTACHMENT = {
    "id": "a1",
    "filename": "ordonnance.pdf",
    "content_type": "application/pdf",
    "size": 25 * 1024 * 1024,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}


def _too_large(r) -> None:
    problem = r.json()
    assert (r.status_code, problem["code"]) == (413, "message_too_large")
    assert problem["max_bytes"] == 25 * 1024 * 1024 and problem["size_bytes"] > problem["max_bytes"]


async def test_a_patients_message_over_25_mo_is_refused_at_once(harness):
    # A 25 MiB attachment is accepted alone; with a text it goes over the limit.
    opened = (await harness.send()).json()
    events_before = len(await harness.events())
    _too_large(await harness.start(PHARMACY, body="é" * 200_000, attachments=[ATTACHMENT]))
    _too_large(await harness.start(DOCTOR, body="Bonjour", attachments=[ATTACHMENT]))
    _too_large(await harness.reply(opened["conversation_id"], attachments=[ATTACHMENT]))
    halves = [dict(ATTACHMENT, id=f"a{i}", size=13 * 1024 * 1024) for i in range(2)]
    _too_large(await harness.reply(opened["conversation_id"], body="", attachments=halves))
    assert len(await harness.events()) == events_before
    # Exactly at the limit is fine.
    exact = dict(ATTACHMENT, size=25 * 1024 * 1024 - len("Ordonnance") - len("Bonjour."))
    assert (await harness.start(PHARMACY, attachments=[exact])).status_code == 201


async def test_the_patients_size_limit_is_the_setting(harness_factory):
    async with harness_factory(max_message_bytes=50) as h:
        r = await h.start(PHARMACY, subject="Ordonnance", body="x" * 41)
        assert (r.status_code, r.json()["code"], r.json()["max_bytes"]) == (
            413,
            "message_too_large",
            50,
        )
        assert (await h.start(PHARMACY, subject="Ordonnance", body="x" * 40)).status_code == 201
