"""What the patient and a mailbox see: pages of conversations, contacts."""

from __future__ import annotations

import pytest

from mes_contracts.events.identity import PatientState
from mes_conversation.testing import (
    DOCTOR,
    LAB,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    PHARMACY,
    address_of,
)

# What a conversation shows, to the patient and to the mailbox alike (only the correspondent
# differs).
CONVERSATION_FIELDS = {
    "id",
    "subject",
    "state",
    "correspondent",
    "patient_ins",
    "opened_by",
    "opened_at",
    "last_activity_at",
    "closed_by",
    "closed_at",
    "close_reason",
    "reply_allowed",
    "closed_notice",
}


async def test_contacts_are_correspondents_whose_latest_exchange_is_open(harness):
    await harness.send()
    await harness.send(**{"from": OTHER_DOCTOR})
    await harness.send(**{"from": OTHER_DOCTOR}, subject="[FIN]")
    lab = (await harness.send(**{"from": LAB})).json()
    r = await harness.client.get(f"/internal/patients/{PATIENT}/contacts")
    items = r.json()["items"]
    assert {i["address"] for i in items} == {DOCTOR, LAB}
    by_address = {i["address"]: i for i in items}
    assert by_address[LAB] == {
        "address": LAB,
        "kind": "application",
        "display_name": "Laboratoire Bio",
        "conversation_id": lab["conversation_id"],
    }
    other = (await harness.client.get(f"/internal/patients/{OTHER_PATIENT}/contacts")).json()
    assert other == {"items": []}


async def test_a_pharmacy_stays_a_contact_while_one_of_its_conversations_is_open(harness):
    """Its [FIN] closes the conversation it is sent in, not the others: the contact leads to
    the most recent one still open."""
    older = (await harness.start(PHARMACY, subject="Ordonnance A")).json()
    newer = (await harness.start(PHARMACY, subject="Ordonnance B")).json()
    url = f"/internal/patients/{PATIENT}/contacts"
    (contact,) = (await harness.client.get(url)).json()["items"]
    assert contact["conversation_id"] == newer["conversation_id"]
    fin = await harness.send(**{"from": PHARMACY}, subject="[FIN]", in_reply_to=newer["message_id"])
    assert fin.json()["conversation_id"] == newer["conversation_id"]
    (contact,) = (await harness.client.get(url)).json()["items"]
    assert (contact["address"], contact["conversation_id"]) == (
        PHARMACY,
        older["conversation_id"],
    )


async def test_patient_conversations_filter_and_view(harness):
    await harness.send()
    await harness.send(**{"from": OTHER_DOCTOR}, subject="[FIN]")
    await harness.start(PHARMACY)
    url = f"/internal/patients/{PATIENT}/conversations"
    everything = (await harness.client.get(url)).json()
    assert len(everything["items"]) == 3 and everything["next_cursor"] is None
    # Most recently active first.
    assert everything["items"][0]["correspondent"]["address"] == PHARMACY
    closed = (await harness.client.get(url, params={"state": "closed"})).json()["items"]
    assert [c["correspondent"]["address"] for c in closed] == [OTHER_DOCTOR]
    assert closed[0]["reply_allowed"] is False
    open_ = (await harness.client.get(url, params={"state": "open"})).json()["items"]
    assert {c["correspondent"]["address"] for c in open_} == {DOCTOR, PHARMACY}
    one = (await harness.client.get(f"{url}/{open_[0]['id']}")).json()
    assert one == open_[0]
    assert set(one) == CONVERSATION_FIELDS


@pytest.mark.parametrize("state", [PatientState.CLOSED, PatientState.OPPOSED])
async def test_a_patient_whose_profile_refuses_replies_is_shown_no_reply_allowed(harness, state):
    """Their replies are refused (patient_profile_inactive): no conversation may offer one."""
    await harness.send()
    url = f"/internal/patients/{PATIENT}/conversations"
    before = (await harness.client.get(url)).json()["items"]
    assert [c["reply_allowed"] for c in before] == [True]
    harness.resolver.patient(PATIENT, state)
    listed = (await harness.client.get(url)).json()["items"]
    one = (await harness.client.get(f"{url}/{before[0]['id']}")).json()
    assert listed[0]["state"] == one["state"] == "open"
    assert listed[0]["reply_allowed"] is False and one["reply_allowed"] is False
    refused = await harness.reply(before[0]["id"])
    assert refused.status_code == 403 and refused.json()["code"] == "patient_profile_inactive"


async def test_identity_down_leaves_the_conversation_state_to_decide_reply_allowed(harness):
    await harness.send()
    harness.resolver.down = True
    r = await harness.client.get(f"/internal/patients/{PATIENT}/conversations")
    assert r.status_code == 200
    assert [c["reply_allowed"] for c in r.json()["items"]] == [True]


async def test_mailbox_conversations(harness):
    await harness.send()
    await harness.send(to=f"{OTHER_PATIENT}@patient.mssante.fr")
    await harness.send(**{"from": OTHER_DOCTOR})
    r = await harness.client.get(f"/internal/mailboxes/{DOCTOR}/conversations")
    items = r.json()["items"]
    assert {c["patient_ins"] for c in items} == {PATIENT, OTHER_PATIENT}


async def test_the_mailboxs_correspondent_is_the_patient(harness):
    await harness.send()
    await harness.start(PHARMACY)  # opened by the patient
    doctor = (await harness.client.get(f"/internal/mailboxes/{DOCTOR}/conversations")).json()
    pharmacy = (await harness.client.get(f"/internal/mailboxes/{PHARMACY}/conversations")).json()
    marie = {"address": address_of(PATIENT), "kind": "patient", "display_name": "Marie Dupont"}
    assert doctor["items"][0]["correspondent"] == marie
    assert pharmacy["items"][0]["correspondent"] == marie
    assert set(doctor["items"][0]) == CONVERSATION_FIELDS
    # The name follows identity's latest answer, carried by the next message.
    harness.resolver.patient(PATIENT, display_name="Marie Durand")
    await harness.send(subject="Suite")
    doctor = (await harness.client.get(f"/internal/mailboxes/{DOCTOR}/conversations")).json()
    assert doctor["items"][0]["correspondent"]["display_name"] == "Marie Durand"
    # The patient's own view still shows the health actor.
    mine = (await harness.client.get(f"/internal/patients/{PATIENT}/conversations")).json()
    assert {c["correspondent"]["address"] for c in mine["items"]} == {DOCTOR, PHARMACY}
    r = await harness.client.get("/internal/mailboxes/not-an-address/conversations")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_address")


async def test_unknown_conversation_is_404(harness):
    r = await harness.client.get("/internal/conversations/nope")
    assert (r.status_code, r.json()["code"]) == (404, "conversation_not_found")


async def test_invalid_cursor_and_limit(harness):
    url = f"/internal/patients/{PATIENT}/conversations"
    # One limit (512) and one problem on every list, however the cursor is wrong.
    for cursor in ["garbage", "eyJ0IjogMX0", "e30", "A" * 501, "A" * 512, "A" * 513]:
        r = await harness.client.get(url, params={"cursor": cursor})
        assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor")
    for limit in (0, 101):
        r = await harness.client.get(url, params={"limit": limit})
        assert r.status_code == 422
    r = await harness.client.get(url, params={"state": "archived"})
    assert r.status_code == 422
