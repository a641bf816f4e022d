"""[FIN] from a health actor ends the whole exchange with the patient; a pharmacy's ends only
the conversation it lands in; an idle close ends only the idle conversation."""

from __future__ import annotations

from datetime import datetime, timedelta

from mes_contracts.events.conversation import ConversationClosed, MessageAccepted
from mes_conversation.service.idle import IdleCloser
from mes_conversation.testing import DOCTOR, OTHER_DOCTOR, OTHER_PATIENT, PATIENT, PHARMACY


async def _view(harness, conversation_id: str) -> dict:
    r = await harness.client.get(f"/internal/patients/{PATIENT}/conversations/{conversation_id}")
    assert r.status_code == 200
    return r.json()


async def _contacts(harness) -> set[str]:
    r = await harness.client.get(f"/internal/patients/{PATIENT}/contacts")
    return {c["address"] for c in r.json()["items"]}


async def test_a_professionals_fin_closes_the_conversations_the_patient_opened_too(harness):
    first = (await harness.send(subject="Bilan")).json()
    # Allowed: the doctor wrote and has not closed.
    mine = (await harness.start(DOCTOR, subject="Une question")).json()
    # Untouched: another doctor's conversation, the same doctor's with another patient.
    colleague = (await harness.send(**{"from": OTHER_DOCTOR})).json()
    other_patient = (await harness.send(to=f"{OTHER_PATIENT}@patient.mssante.fr")).json()

    fin = await harness.send(subject="[FIN]", body="", in_reply_to=first["message_id"])
    assert fin.json()["conversation_id"] == first["conversation_id"]

    for cid in (first["conversation_id"], mine["conversation_id"]):
        view = await _view(harness, cid)
        assert (view["state"], view["closed_by"], view["close_reason"]) == ("closed", DOCTOR, "fin")
        assert view["closed_notice"] == "Dr Martin a mis fin à vos échanges."
    assert (await _view(harness, colleague["conversation_id"]))["state"] == "open"
    other = await harness.client.get(f"/internal/conversations/{other_patient['conversation_id']}")
    assert other.json()["state"] == "open"

    closed = [
        e.payload_as(ConversationClosed) for e in await harness.events(ConversationClosed.SUBJECT)
    ]
    assert sorted(c.conversation_id for c in closed) == sorted(
        [first["conversation_id"], mine["conversation_id"]]
    )
    assert {(c.closed_by, c.reason) for c in closed} == {(DOCTOR, "fin")}

    # The patient can neither reply in the conversation they opened nor start another one.
    r = await harness.reply(mine["conversation_id"])
    assert (r.status_code, r.json()["detail"]) == (409, "Dr Martin a mis fin à vos échanges.")
    r = await harness.start(DOCTOR, subject="Encore une")
    assert (r.status_code, r.json()["code"]) == (403, "initiation_not_allowed")
    assert await _contacts(harness) == {OTHER_DOCTOR}

    # Until the doctor writes again: that opens a new exchange.
    again = (await harness.send(subject="Nouveau bilan")).json()
    assert again["conversation_id"] not in (first["conversation_id"], mine["conversation_id"])
    assert (await harness.start(DOCTOR, subject="Merci")).status_code == 201
    assert DOCTOR in await _contacts(harness)


async def test_a_fin_without_in_reply_to_ends_every_open_conversation_with_the_patient(harness):
    first = (await harness.send(subject="Sujet 1")).json()
    mine = (await harness.start(DOCTOR, subject="Sujet 2 patient")).json()
    # The header form (X-MSS-MES: FIN), on a subject that is not [FIN].
    await harness.send(subject="Fin de suivi", fin=True)
    for cid in (first["conversation_id"], mine["conversation_id"]):
        assert (await _view(harness, cid))["state"] == "closed"
    assert len(await harness.events(ConversationClosed.SUBJECT)) == 2
    r = await harness.start(DOCTOR)
    assert r.json()["code"] == "initiation_not_allowed"


async def test_a_fin_bounced_for_its_size_closes_nothing(harness_factory):
    async with harness_factory(max_message_bytes=100) as h:
        first = (await h.send(subject="Bilan", body="ok")).json()
        r = (await h.send(subject="[FIN]", body="x" * 200)).json()
        assert (r["status"], r["bounce_reason"]) == ("bounced", "too_large")
        view = (await h.client.get(f"/internal/conversations/{first['conversation_id']}")).json()
        assert view["state"] == "open"
        assert await h.events(ConversationClosed.SUBJECT) == []


async def test_a_pharmacys_fin_closes_only_the_conversation_it_lands_in(harness):
    first = (await harness.start(PHARMACY, subject="Ordonnance 1")).json()
    second = (await harness.start(PHARMACY, subject="Ordonnance 2")).json()
    await harness.send(**{"from": PHARMACY}, subject="[FIN]", in_reply_to=first["message_id"])
    assert (await _view(harness, first["conversation_id"]))["state"] == "closed"
    assert (await _view(harness, second["conversation_id"]))["state"] == "open"
    assert (await harness.reply(second["conversation_id"])).status_code == 202
    (closed,) = await harness.events(ConversationClosed.SUBJECT)
    assert closed.payload["conversation_id"] == first["conversation_id"]
    # And the patient may always start a new one with the pharmacy.
    assert (await harness.start(PHARMACY, subject="Ordonnance 3")).status_code == 201


async def test_the_message_carrying_the_fin_is_marked_as_closing(harness):
    await harness.send()
    await harness.start(DOCTOR)
    await harness.send(subject="[FIN]")
    last = (await harness.events(MessageAccepted.SUBJECT))[-1].payload_as(MessageAccepted)
    assert last.subject == "[FIN]" and last.closes_conversation


async def test_an_idle_close_ends_only_the_idle_conversation(harness):
    idle = (await harness.send(subject="Bilan")).json()
    busy = (await harness.start(DOCTOR, subject="Question")).json()
    idle_at = datetime.fromisoformat(
        (await _view(harness, idle["conversation_id"]))["last_activity_at"]
    )
    busy_at = datetime.fromisoformat(
        (await _view(harness, busy["conversation_id"]))["last_activity_at"]
    )
    assert busy_at > idle_at
    after = timedelta(hours=1)
    closer = IdleCloser(
        harness.app.state.idle_closer.uow_factory,
        after_seconds=after.total_seconds(),
        interval_seconds=60,
        clock=lambda: idle_at + (busy_at - idle_at) / 2 + after,
    )
    assert await closer.close_idle() == 1
    view = await _view(harness, idle["conversation_id"])
    assert (view["state"], view["close_reason"], view["closed_by"]) == ("closed", "idle", DOCTOR)
    assert (await _view(harness, busy["conversation_id"]))["state"] == "open"
    assert (await harness.reply(busy["conversation_id"])).status_code == 202
    (closed,) = await harness.events(ConversationClosed.SUBJECT)
    assert closed.payload["conversation_id"] == idle["conversation_id"]
