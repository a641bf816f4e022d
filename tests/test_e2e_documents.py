"""The patient's documents with every service running as its own process: kept from a
received message, added, listed, attached to a message to a pharmacy, deleted, and still
there after the mailbox service is killed."""

from __future__ import annotations

import struct
import uuid

import httpx
import pytest

from .conftest import Api, eventually
from .stack import Stack

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _word_document() -> bytes:
    """The smallest OLE2 compound file holding a "WordDocument" stream: a .doc to the mailbox."""
    end, free, fat_sector, none = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", 0, *[free] * 108)
    )
    chain = [fat_sector, end] + [3 + i for i in range(7)] + [end]
    fat = struct.pack("<128I", *chain, *[free] * (128 - len(chain)))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\x00\x00" if name else b""
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1 if name else 0)
            + struct.pack("<III", none, none, child)
            + bytes(36)
            + struct.pack("<IQ", start, size)
        )

    directory = (
        entry("Root Entry", 5, 1, end, 0)
        + entry("WordDocument", 2, none, 2, 4096)
        + entry("", 0, none, 0, 0) * 2
    )
    return header + fat + directory + b"\x00" * 4096


def _pro(api: Api) -> tuple[str, str]:
    address = f"pro.{uuid.uuid4().hex[:10]}@hopital-test.mssante.fr"
    return address, api.mailbox(address, "PER", "Dr Anne Leroy", rpps="10101234567")


def _mailbox(stack: Stack) -> httpx.Client:
    """The mailbox's internal API, as the pharmacy flow calls it."""
    return httpx.Client(
        base_url=stack.addresses.url("mailbox"),
        headers={"X-Internal-Token": stack.token},
        timeout=15,
    )


def test_a_received_prescription_kept_then_sent_to_a_pharmacy(api: Api, stack: Stack) -> None:
    patient, patient_token = api.patient()
    me = api.as_(patient_token)
    sender, pro_token = _pro(api)
    ups = [
        api.http.post("/v1/attachments", headers=api.as_(pro_token), files={"file": f}).json()
        for f in (("ordonnance.pdf", PDF), ("courrier.doc", _word_document()))
    ]
    sent = api.send(
        pro_token,
        **{
            "from": sender,
            "to": patient,
            "subject": "Ordonnance",
            "body": "Ci-joint",
            "attachment_ids": [u["id"] for u in ups],
        },
    ).json()
    api.delivered(patient_token, sent["message_id"])
    save = "/v1/me/messages/{}/attachments/{}/save"
    r = api.http.post(save.format(sent["message_id"], ups[0]["id"]), headers=me)
    assert r.status_code == 201, r.text
    prescription = r.json()
    r = api.http.post(save.format(sent["message_id"], ups[1]["id"]), headers=me)
    assert (r.status_code, r.json()["code"]) == (415, "document_type_not_allowed")
    photo = api.http.post("/v1/me/documents", headers=me, files={"file": ("carte.png", PNG)})
    assert photo.status_code == 201, photo.text
    listed = api.http.get("/v1/me/documents", headers=me).json()["items"]
    assert [d["filename"] for d in listed] == ["carte.png", "ordonnance.pdf"]

    # The pharmacy flow copies the document into an attachment the patient sends.
    pharmacy = f"pharmacie.{uuid.uuid4().hex[:8]}@officine-test.mssante.fr"
    pharmacy_token = api.mailbox(
        pharmacy, "ORG", "Pharmacie du Marché", finess="750012345", pharmacy=True
    )
    with _mailbox(stack) as mailbox:
        r = mailbox.post(
            "/internal/documents/attach",
            json={"owner": patient, "document_ids": [prescription["id"]]},
        )
    assert r.status_code == 200, r.text
    (attachment,) = r.json()["attachments"]
    assert attachment["sha256"] == prescription["sha256"]
    r = api.http.post(
        "/v1/me/conversations",
        headers=me,
        json={
            "to": pharmacy,
            "subject": "Ordonnance",
            "body": "Bonjour, voici mon ordonnance.",
            "attachment_ids": [attachment["id"]],
        },
    )
    assert r.status_code == 201, r.text
    # Deleting the document leaves the message's attachment whole.
    r = api.http.delete(f"/v1/me/documents/{prescription['id']}", headers=me)
    assert r.status_code == 204
    pharmacy_h = api.as_(pharmacy_token)
    (received,) = eventually(lambda: api.inbox(pharmacy_token, pharmacy))
    assert [a["sha256"] for a in received["attachments"]] == [prescription["sha256"]]
    got = api.http.get(f"/v1/attachments/{attachment['id']}", headers=pharmacy_h)
    assert got.status_code == 200 and got.content == PDF


def test_documents_are_only_their_owners_and_outlive_a_crash(api: Api, stack: Stack) -> None:
    _, token = api.patient()
    _, other_token = api.patient()
    me, other = api.as_(token), api.as_(other_token)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = api.http.post("/v1/me/documents", headers=me | key, files={"file": ("o.pdf", PDF)})
    assert r.status_code == 201, r.text
    doc = r.json()
    stack.restart_service("mailbox")
    stack.wait_ready()
    # Accepted before the crash: still listed, its bytes whole, its key remembered.
    again = api.http.post("/v1/me/documents", headers=me | key, files={"file": ("o.pdf", PDF)})
    assert again.json() == doc
    assert api.http.get("/v1/me/documents", headers=me).json()["items"] == [doc]
    assert api.http.get(f"/v1/me/documents/{doc['id']}", headers=me).content == PDF
    for method in ("GET", "DELETE"):
        theirs = api.http.request(method, f"/v1/me/documents/{doc['id']}", headers=other)
        assert (theirs.status_code, theirs.json()["code"]) == (404, "document_not_found")
        for dot in ("%2E", "%2E%2E"):
            url = httpx.URL(str(api.http.base_url)).copy_with(
                raw_path=f"/v1/me/documents/{dot}".encode()
            )
            r = api.http.request(method, url, headers=me)
            assert (r.status_code, r.json()["code"]) == (404, "document_not_found")
    assert api.http.get("/v1/me/documents", headers=other).json()["items"] == []
