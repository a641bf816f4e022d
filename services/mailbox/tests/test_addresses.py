"""One mailbox per address whatever its spelling, on both engines: a health actor's address is
case-insensitive (one lower-case spelling), a patient's keeps its INS as written by the
contracts (2A/2B upper case); an address no mailbox can have is refused."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from mes_contracts.events.parties import AttachmentRef

MIXED_DOCTOR = "Dr.Martin@Hopital-Exemple.MSSANTE.fr"
CORSICAN = "185052A00412356@patient.mssante.fr"


@pytest.fixture
def service_database_url(database_url):
    return database_url


async def test_any_spelling_of_a_health_actor_reads_the_same_mailbox(service, kit):
    await service.deliver(kit.accepted(message_id="m1", conversation_id="c1", receipt=True))
    lower = await service.listing(kit.DOCTOR, folder="sent")
    assert [i["id"] for i in lower.json()["items"]] == ["m1"]
    for spelling in (MIXED_DOCTOR, kit.DOCTOR.upper(), f" {MIXED_DOCTOR} "):
        r = await service.listing(spelling, folder="sent")
        assert r.status_code == 200 and r.json() == lower.json(), spelling
        r = await service.client.post(f"/internal/mailboxes/{spelling}/messages/m1/open")
        assert r.status_code == 200 and r.json()["sender"]["address"] == kit.DOCTOR

    # The patient reads it: the receipt lands in the one mailbox, read under any spelling.
    await service.client.post(f"/internal/mailboxes/{kit.PATIENT}/messages/m1/read")
    (receipt,) = (await service.listing(MIXED_DOCTOR, folder="inbox")).json()["items"]
    assert receipt["kind"] == "read_receipt"
    counts = f"/internal/mailboxes/{MIXED_DOCTOR}/unread-counts"
    assert (await service.client.get(counts)).json()["total"] == 1
    read = await service.client.post(
        f"/internal/mailboxes/{kit.DOCTOR.upper()}/messages/{receipt['id']}/read"
    )
    assert read.status_code == 200
    assert (await service.client.get(f"/internal/mailboxes/{kit.DOCTOR}/unread-counts")).json()[
        "total"
    ] == 0


async def test_an_upload_under_any_spelling_is_its_owners(service, kit):
    ref = (await service.upload(kit.FILES["pdf"], "ordonnance.pdf", owner=MIXED_DOCTOR)).json()
    for spelling in (kit.DOCTOR, MIXED_DOCTOR):
        r = await service.client.get(
            f"/internal/attachments/{ref['id']}", params={"mailbox": spelling}
        )
        assert r.status_code == 200 and r.content == kit.FILES["pdf"], spelling
        r = await service.client.post(
            "/internal/attachments/resolve", json={"owner": spelling, "ids": [ref["id"]]}
        )
        assert r.status_code == 200 and r.json()["items"] == [ref], spelling
    # Sent from the lower-case spelling, it is in both copies.
    await service.deliver(kit.accepted(message_id="m1", attachments=(AttachmentRef(**ref),)))
    (sent,) = (await service.listing(MIXED_DOCTOR, folder="sent")).json()["items"]
    assert sent["attachments"] == [ref]


async def test_a_patient_address_keeps_its_ins_spelling(service, kit):
    await service.deliver(kit.accepted(message_id="m1", recipient=CORSICAN))
    canonical = (await service.listing(CORSICAN)).json()
    assert [i["id"] for i in canonical["items"]] == ["m1"]
    r = await service.listing("185052a00412356@Patient.MSSante.fr")
    assert r.status_code == 200 and r.json() == canonical
    # A bounce records the recipient in its one spelling when it is an address at all.
    await service.deliver(
        kit.bounced(message_id="b1", recipient="279035121518989@PATIENT.mssante.fr")
    )
    sent = {i["id"]: i for i in (await service.listing(kit.DOCTOR, folder="sent")).json()["items"]}
    assert sent["b1"]["recipient_address"] == kit.PATIENT
    await service.deliver(
        kit.bounced(message_id="b2", recipient="27903512151898X@Patient.mssante.fr")
    )
    sent = {i["id"]: i for i in (await service.listing(kit.DOCTOR, folder="sent")).json()["items"]}
    assert sent["b2"]["recipient_address"] == "27903512151898X@patient.mssante.fr"


@pytest.mark.parametrize(
    "address",
    [
        "dr.martin@example.org",
        "no-at-sign.mssante.fr",
        "dr martin@hopital-exemple.mssante.fr",
        "dr.martin\x00@hopital-exemple.mssante.fr",
        "123@patient.mssante.fr",
    ],
)
async def test_an_address_no_mailbox_can_have_is_refused(service, kit, address):
    base = f"/internal/mailboxes/{quote(address, safe='@')}"
    answers = [
        await service.client.get(f"{base}/messages"),
        await service.client.post(f"{base}/messages/m1/open"),
        await service.client.post(f"{base}/messages/m1/read"),
        await service.client.get(f"{base}/unread-counts"),
        await service.upload(kit.FILES["pdf"], "ordonnance.pdf", owner=address),
        await service.client.post(
            "/internal/attachments/resolve", json={"owner": address, "ids": ["a1"]}
        ),
        await service.client.get("/internal/attachments/a1", params={"mailbox": address}),
    ]
    for r in answers:
        assert (r.status_code, r.json()["code"]) == (422, "invalid_address"), r.request.url
        assert r.headers["content-type"] == "application/problem+json"
    blobs = service.settings.resolved_blob_dir
    assert not blobs.exists() or [p for p in blobs.rglob("*") if p.is_file()] == []
