"""Mailbox reading on both engines: pages, one message, read flags, receipts, unread counts."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest


@pytest.fixture
def service_database_url(database_url):
    return database_url


async def test_pages_cover_every_message_once_newest_first(service, kit):
    # 120 messages, some sharing a timestamp: the id breaks the tie, nothing is lost.
    envelopes = [
        kit.accepted(message_id=f"m{i:03d}", sent_at=kit.T0 + timedelta(seconds=i // 3))
        for i in range(120)
    ]
    await service.deliver(*envelopes)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"folder": "inbox", "limit": 50} | ({"cursor": cursor} if cursor else {})
        r = await service.listing(kit.PATIENT, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(
        (f"m{i:03d}" for i in range(120)), key=lambda m: (int(m[1:]) // 3, m), reverse=True
    )
    sent = (await service.listing(kit.DOCTOR, folder="sent", limit=100)).json()
    assert len(sent["items"]) == 100 and sent["next_cursor"]
    assert all(
        i["folder"] == "sent" and i["status"] == "accepted" and i["read"] for i in sent["items"]
    )


async def test_summary_and_full_message(service, kit):
    await service.deliver(kit.accepted(message_id="m1", conversation_id="conv-9", receipt=True))
    page = (await service.listing(kit.PATIENT)).json()
    (item,) = page["items"]
    assert item["sender"] == {"address": kit.DOCTOR, "display_name": "Dr Martin"}
    assert (item["conversation_id"], item["kind"], item["read"], item["read_at"]) == (
        "conv-9",
        "message",
        False,
        None,
    )
    assert "body" not in item
    full = (await service.client.post(f"/internal/mailboxes/{kit.PATIENT}/messages/m1/open")).json()
    assert full["body"] == "Bonjour, voici vos résultats."
    assert full["read_receipt_requested"] is True and full["in_reply_to"] is None


async def test_filter_by_conversation_shows_both_folders(service, kit):
    await service.deliver(
        kit.accepted(message_id="a1", conversation_id="c-a"),
        kit.accepted(
            message_id="a2",
            conversation_id="c-a",
            sender=kit.PATIENT,
            recipient=kit.DOCTOR,
            sent_at=kit.T0 + timedelta(minutes=5),
        ),
        kit.accepted(message_id="b1", conversation_id="c-b"),
    )
    items = (await service.listing(kit.PATIENT, conversation_id="c-a")).json()["items"]
    assert [(i["id"], i["folder"]) for i in items] == [("a2", "sent"), ("a1", "inbox")]


async def test_bad_cursor_and_limit_are_refused(service, kit):
    for cursor in ("bm90LWEtY3Vyc29y", "A" * 512, "A" * 513):
        r = await service.listing(kit.PATIENT, cursor=cursor)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor")
    assert (await service.listing(kit.PATIENT, limit=101)).status_code == 422
    assert (await service.listing(kit.PATIENT, limit=0)).status_code == 422


def _cursor(position: object) -> str:
    """Written as the service writes its cursors (a NUL or a lone surrogate as JSON escapes)."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        ["0001-01-01T00:00:00+14:00", "m1"],  # before year 1 once in UTC
        ["9999-12-31T23:59:59-14:00", "m1"],  # after year 9999 once in UTC
        ["2024-05-02T11:30:00+02:00", "m1"],  # a real position, not as the service writes it
        ["2024-05-02T09:30:00", "m1"],
        ["2024-05-02T09:30:00+00:00", "m\u0000"],
        ["2024-05-02T09:30:00+00:00", "\ud800"],
        ["2024-05-02T09:30:00+00:00", "m" * 65],
        ["2024-05-02T09:30:00+00:00", 1],
        ["2024-05-02T09:30:00+00:00"],
        {"sent_at": "2024-05-02T09:30:00+00:00", "id": "m1"},
    ],
)
async def test_a_cursor_the_service_did_not_write_is_refused(service, kit, position):
    await service.deliver(*(kit.accepted(message_id=f"m{i}") for i in range(3)))
    first = (await service.listing(kit.PATIENT, limit=1)).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    token = _cursor(position)
    for url in (
        f"/internal/mailboxes/{kit.PATIENT}/messages",
        f"/internal/mailboxes/{kit.DOCTOR}/messages",
    ):
        r = await service.client.get(url, params={"cursor": token})
        assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor"), r.text
    # The service's own cursor goes on.
    r = await service.listing(kit.PATIENT, limit=1, cursor=first["next_cursor"])
    assert r.status_code == 200 and r.json()["items"][0]["id"] != first["items"][0]["id"]


async def test_ids_no_message_can_have_are_unknown(service, kit):
    await service.deliver(kit.accepted(message_id="m1", conversation_id="c1"))
    base = f"/internal/mailboxes/{kit.PATIENT}"
    for message_id in ("m1%00", "%00", "m%0A1"):
        for r in (
            await service.client.post(f"{base}/messages/{message_id}/open"),
            await service.client.post(f"{base}/messages/{message_id}/read"),
        ):
            assert (r.status_code, r.json()["code"]) == (404, "message_not_found"), message_id
    r = await service.listing(kit.PATIENT, conversation_id="c1\x00")
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    r = await service.client.get(
        f"{base}/unread-counts", params={"conversation_id": ["c1", "c1\x00", "c" * 5000]}
    )
    assert r.json() == {"total": 1, "by_conversation": {"c1": 1}}
    r = await service.client.get("/internal/attachments/a%00", params={"mailbox": kit.PATIENT})
    assert (r.status_code, r.json()["code"]) == (404, "attachment_not_found")
    ref = (await service.upload(kit.FILES["pdf"], "ordonnance.pdf")).json()
    r = await service.client.post(
        "/internal/attachments/resolve",
        json={"owner": kit.PATIENT, "ids": [ref["id"], "a\x00", "a" * 300]},
    )
    assert (r.status_code, r.json()["code"]) == (422, "attachment_unknown")
    assert r.json()["ids"] == ["a\x00", "a" * 300]


async def test_first_read_sends_one_receipt_and_is_idempotent(service, kit):
    await service.deliver(kit.accepted(message_id="m1", receipt=True))
    url = f"/internal/mailboxes/{kit.PATIENT}/messages/m1/read"
    first = await service.client.post(url)
    second = await service.client.post(url)
    assert first.status_code == second.status_code == 200
    assert first.json()["read_at"] == second.json()["read_at"]
    doctor_inbox = (await service.listing(kit.DOCTOR, folder="inbox")).json()["items"]
    (receipt,) = doctor_inbox
    assert receipt["kind"] == "read_receipt"
    assert receipt["subject"] == "Accusé de lecture : Résultats d'analyses"
    assert receipt["sender"]["display_name"] == "Marie Dupont"
    body = (
        await service.client.post(f"/internal/mailboxes/{kit.DOCTOR}/messages/{receipt['id']}/open")
    ).json()["body"]
    assert "a été lu le" in body and "par Marie Dupont" in body
    item = (await service.listing(kit.PATIENT)).json()["items"][0]
    assert item["read"] is True and item["read_at"] is not None


async def test_opening_marks_read_once_and_sends_the_receipt(service, kit):
    await service.deliver(kit.accepted(message_id="m1", receipt=True))
    url = f"/internal/mailboxes/{kit.PATIENT}/messages/m1/open"
    first, second = await service.client.post(url), await service.client.post(url)
    assert first.status_code == second.status_code == 200
    assert first.json()["read"] is True and first.json()["read_at"] is not None
    assert first.json()["body"] == second.json()["body"] and first.json()["body"]
    assert first.json()["read_at"] == second.json()["read_at"]
    # Marking it read afterwards keeps the first opening's time and sends nothing more.
    read = await service.client.post(f"/internal/mailboxes/{kit.PATIENT}/messages/m1/read")
    assert read.json()["read_at"] == first.json()["read_at"]
    (receipt,) = (await service.listing(kit.DOCTOR, folder="inbox")).json()["items"]
    assert receipt["kind"] == "read_receipt"
    counts = await service.client.get(f"/internal/mailboxes/{kit.PATIENT}/unread-counts")
    assert counts.json()["total"] == 0
    # The sender opening its own sent copy marks nothing and sends nothing.
    sent = await service.client.post(f"/internal/mailboxes/{kit.DOCTOR}/messages/m1/open")
    assert sent.status_code == 200 and sent.json()["read_at"] is None
    assert len((await service.listing(kit.DOCTOR, folder="inbox")).json()["items"]) == 1
    other = await service.client.post(f"/internal/mailboxes/{kit.OTHER_PATIENT}/messages/m1/open")
    assert (other.status_code, other.json()["code"]) == (404, "message_not_found")


async def test_no_receipt_unless_asked(service, kit):
    await service.deliver(kit.accepted(message_id="m1"))
    assert (
        await service.client.post(f"/internal/mailboxes/{kit.PATIENT}/messages/m1/read")
    ).status_code == 200
    assert (await service.listing(kit.DOCTOR, folder="inbox")).json()["items"] == []


async def test_another_mailbox_sees_nothing(service, kit):
    await service.deliver(kit.accepted(message_id="m1", receipt=True))
    base = f"/internal/mailboxes/{kit.OTHER_PATIENT}/messages/m1"
    for r in [await service.client.post(base + "/open"), await service.client.post(base + "/read")]:
        assert (r.status_code, r.json()["code"]) == (404, "message_not_found")
    assert (await service.listing(kit.OTHER_PATIENT)).json()["items"] == []
    assert (await service.listing(kit.DOCTOR, folder="inbox")).json()["items"] == []


async def test_unread_counts_by_conversation(service, kit):
    await service.deliver(
        kit.accepted(message_id="m1", conversation_id="c1"),
        kit.accepted(message_id="m2", conversation_id="c1"),
        kit.accepted(message_id="m3", conversation_id="c2"),
    )
    url = f"/internal/mailboxes/{kit.PATIENT}/unread-counts"
    assert (await service.client.get(url)).json() == {
        "total": 3,
        "by_conversation": {"c1": 2, "c2": 1},
    }
    await service.client.post(f"/internal/mailboxes/{kit.PATIENT}/messages/m3/read")
    assert (await service.client.get(url)).json() == {"total": 2, "by_conversation": {"c1": 2}}
    # A page of conversations asks for its own counts only.
    some = await service.client.get(url, params={"conversation_id": ["c2", "c3"]})
    assert some.json() == {"total": 0, "by_conversation": {}}
    some = await service.client.get(url, params={"conversation_id": ["c1", "c3"]})
    assert some.json() == {"total": 2, "by_conversation": {"c1": 2}}
    too_many = await service.client.get(url, params={"conversation_id": ["c"] * 201})
    assert too_many.status_code == 422
    # The sender's own sent copies are not unread.
    assert (await service.client.get(f"/internal/mailboxes/{kit.DOCTOR}/unread-counts")).json() == {
        "total": 0,
        "by_conversation": {},
    }


async def test_same_message_delivered_twice_keeps_one_copy_and_its_read_flag(service, kit):
    await service.deliver(kit.accepted(message_id="m1"))
    await service.client.post(f"/internal/mailboxes/{kit.PATIENT}/messages/m1/read")
    await service.deliver(kit.accepted(message_id="m1"))
    (item,) = (await service.listing(kit.PATIENT)).json()["items"]
    assert item["read"] is True
