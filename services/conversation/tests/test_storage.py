"""The same flows on SQLite and PostgreSQL: pages, conversations across restarts of state,
idle auto-close, and idempotency stored with the change."""

from __future__ import annotations

import asyncio

from mes_contracts.events.conversation import ConversationClosed, MessageAccepted
from mes_conversation.testing import DOCTOR, PATIENT, PHARMACY, address_of, running, settings_for


async def test_conversation_lifecycle_on_both_engines(any_db_harness):
    h = any_db_harness
    first = (await h.send()).json()
    assert (await h.send()).json()["conversation_id"] == first["conversation_id"]
    assert (await h.reply(first["conversation_id"])).status_code == 202
    await h.send(subject="[FIN]")
    assert (await h.reply(first["conversation_id"])).status_code == 409
    second = (await h.send()).json()
    assert second["conversation_id"] != first["conversation_id"]
    assert (await h.start(PHARMACY)).status_code == 201
    view = (await h.client.get(f"/internal/conversations/{first['conversation_id']}")).json()
    assert (view["state"], view["close_reason"], view["closed_by"]) == ("closed", "fin", DOCTOR)
    assert view["opened_at"].endswith("Z") or view["opened_at"].endswith("+00:00")
    types = [e.type.split(".")[2:4] for e in await h.events()]
    assert types.count(["message", "accepted"]) == 6


async def test_fin_ends_every_open_conversation_of_the_pair_on_both_engines(any_db_harness):
    h = any_db_harness
    first = (await h.send()).json()
    mine = (await h.start(DOCTOR, subject="Question")).json()
    await h.send(subject="[FIN]", in_reply_to=first["message_id"])
    for cid in (first["conversation_id"], mine["conversation_id"]):
        view = (await h.client.get(f"/internal/conversations/{cid}")).json()
        assert (view["state"], view["closed_by"], view["close_reason"]) == ("closed", DOCTOR, "fin")
    assert (await h.start(DOCTOR)).json()["code"] == "initiation_not_allowed"
    assert len(await h.events(ConversationClosed.SUBJECT)) == 2


async def test_the_patients_name_is_stored_for_the_mailbox_view_on_both_engines(any_db_harness):
    h = any_db_harness
    await h.send()
    page = (await h.client.get(f"/internal/mailboxes/{DOCTOR}/conversations")).json()
    assert page["items"][0]["correspondent"] == {
        "address": address_of(PATIENT),
        "kind": "patient",
        "display_name": "Marie Dupont",
    }


async def test_keyset_pages_on_both_engines(any_db_harness):
    h = any_db_harness
    senders = [f"dr.{i}@hopital.mssante.fr" for i in range(7)]
    for s in senders:
        h.directory.add(s, "PER", s)  # type: ignore[arg-type]
        await h.send(**{"from": s})
    url = f"/internal/patients/{PATIENT}/conversations"
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await h.client.get(url, params=params)).json()
        seen += [c["correspondent"]["address"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(senders))  # most recent first, each exactly once
    mailbox = (await h.client.get(f"/internal/mailboxes/{senders[0]}/conversations")).json()
    assert [c["patient_ins"] for c in mailbox["items"]] == [PATIENT]


async def test_idempotent_replay_on_both_engines(any_db_harness):
    h = any_db_harness
    key = {"Idempotency-Key": "same"}
    answers = await asyncio.gather(*[h.send(headers=key) for _ in range(4)])
    assert len({a.text for a in answers}) == 1
    assert all(a.status_code == 202 for a in answers)
    assert len(await h.events(MessageAccepted.SUBJECT)) == 1


async def test_concurrent_first_messages_share_one_conversation(any_db_harness):
    h = any_db_harness
    answers = await asyncio.gather(*[h.send(body=f"m{i}") for i in range(5)])
    assert len({a.json()["conversation_id"] for a in answers}) == 1


async def test_idle_conversations_close_by_themselves(tmp_path, database_url):
    settings = settings_for(
        tmp_path, database_url, idle_close_after_seconds=0.3, idle_check_interval_seconds=0.1
    )
    async with running(settings) as h:
        idle = (await h.send()).json()
        await h.start(PHARMACY)
        await asyncio.sleep(0.15)
        busy = (await h.send(to=address_of("185077512345608"))).json()
        for _ in range(50):
            if len(await h.events(ConversationClosed.SUBJECT)) >= 2:
                break
            await asyncio.sleep(0.05)
        closed = {
            e.payload["conversation_id"]: e.payload
            for e in await h.events(ConversationClosed.SUBJECT)
        }
        assert idle["conversation_id"] in closed
        event = closed[idle["conversation_id"]]
        assert (event["reason"], event["closed_by"]) == ("idle", DOCTOR)
        view = (
            await h.client.get(
                f"/internal/patients/{PATIENT}/conversations/{idle['conversation_id']}"
            )
        ).json()
        # Closed on the doctor's behalf: the patient reads the same notice as the 409 says.
        assert (view["state"], view["close_reason"], view["closed_notice"]) == (
            "closed",
            "idle",
            "Dr Martin a mis fin à vos échanges.",
        )
        r = await h.reply(idle["conversation_id"])
        assert (r.status_code, r.json()["detail"]) == (409, view["closed_notice"])
        # A message after the idle close starts a new exchange.
        again = (await h.send()).json()
        assert again["conversation_id"] != idle["conversation_id"]
        assert busy["conversation_id"]
