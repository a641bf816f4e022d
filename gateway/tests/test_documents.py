"""The patient's documents through the gateway, with the real mailbox service behind it (real
NATS, SQLite): what a patient adds, lists, downloads, deletes and saves from a message."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted
from mes_contracts.events.parties import AttachmentRef, Party, PartyKind
from mes_dev.testing.nats_server import NatsServer
from mes_gateway.main import create_app
from mes_mailbox.adapters.uow import MailboxUnitOfWork
from mes_mailbox.main import create_app as create_mailbox_app
from mes_mailbox.service.delivery import deliver_many
from mes_mailbox.settings import MailboxSettings

INS, OTHER_INS = "279035121518989", "184127645108946"
PATIENT = f"{INS}@patient.mssante.fr"
DOCTOR = "claire.martin@hopital-exemple.mssante.fr"
LIMIT = 5 * 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24


@pytest.fixture
async def mailbox_app(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[FastAPI]:
    app = create_mailbox_app(
        MailboxSettings(
            data_dir=tmp_path / "mailbox", nats_url=nats_server.url, log_json=False, delivery=False
        )
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(settings, mailbox_app) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, transports={"mailbox": httpx.ASGITransport(app=mailbox_app)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        yield client


@pytest.fixture
async def patient(client, dev_token) -> dict[str, str]:
    return await dev_token(client, role="patient", ins=INS)


@pytest.fixture
async def other_patient(client, dev_token) -> dict[str, str]:
    return await dev_token(client, role="patient", ins=OTHER_INS)


async def _add(
    client: httpx.AsyncClient, auth: dict[str, str], content: bytes, name: str, **headers: str
) -> httpx.Response:
    return await client.post(
        "/v1/me/documents",
        files={"file": (name, content, "application/pdf")},
        headers=auth | headers,
    )


async def test_add_list_download_delete(client, patient):
    r = await _add(client, patient, PDF, "ordonnance.pdf")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["filename"], doc["content_type"], doc["size"]) == (
        "ordonnance.pdf",
        "application/pdf",
        len(PDF),
    )
    assert doc["sha256"] == hashlib.sha256(PDF).hexdigest()
    listed = await client.get("/v1/me/documents", headers=patient)
    assert listed.status_code == 200
    assert listed.json() == {"items": [doc], "next_cursor": None}
    r = await client.get(f"/v1/me/documents/{doc['id']}", headers=patient)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''ordonnance.pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert (
        await client.delete(f"/v1/me/documents/{doc['id']}", headers=patient)
    ).status_code == 204
    r = await client.delete(f"/v1/me/documents/{doc['id']}", headers=patient)
    assert (r.status_code, r.json()["code"]) == (404, "document_not_found")
    assert (await client.get("/v1/me/documents", headers=patient)).json()["items"] == []


async def test_pages_newest_first(client, patient):
    names = [f"note{i}.txt" for i in range(3)]
    for name in names:
        assert (await _add(client, patient, name.encode(), name)).status_code == 201
    first = (await client.get("/v1/me/documents?limit=2", headers=patient)).json()
    assert [d["filename"] for d in first["items"]] == ["note2.txt", "note1.txt"]
    rest = (
        await client.get(
            "/v1/me/documents", params={"limit": 2, "cursor": first["next_cursor"]}, headers=patient
        )
    ).json()
    assert [d["filename"] for d in rest["items"]] == ["note0.txt"] and rest["next_cursor"] is None
    r = await client.get("/v1/me/documents?cursor=forged", headers=patient)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor")


async def test_five_mo_both_sides_and_types(client, patient):
    r = await _add(client, patient, b"%PDF-" + b"0" * (LIMIT - 5), "limite.pdf")
    assert r.status_code == 201 and r.json()["size"] == 5_242_880
    r = await _add(client, patient, b"%PDF-" + b"0" * (LIMIT - 4), "trop.pdf")
    assert (r.status_code, r.json()["code"]) == (413, "document_too_large")
    assert r.json()["max_bytes"] == 5_242_880
    r = await _add(client, patient, OLE2, "lettre.doc")
    assert (r.status_code, r.json()["code"]) == (415, "document_type_not_allowed")
    assert "doc" not in r.json()["allowed"]
    r = await _add(client, patient, PDF, "photo.png")
    assert (r.status_code, r.json()["code"]) == (415, "document_type_mismatch")
    r = await client.post("/v1/me/documents", data={"x": "y"}, headers=patient)
    assert (r.status_code, r.json()["code"]) == (422, "file_required")


async def test_another_patients_document_answers_as_a_missing_one(client, patient, other_patient):
    doc = (await _add(client, patient, PDF, "ordonnance.pdf")).json()
    for method in ("GET", "DELETE"):
        theirs = await client.request(
            method, f"/v1/me/documents/{doc['id']}", headers=other_patient
        )
        missing = await client.request(method, "/v1/me/documents/nope", headers=patient)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["code"] == missing.json()["code"] == "document_not_found"
    assert (await client.get("/v1/me/documents", headers=other_patient)).json()["items"] == []
    # Still there for its owner.
    assert (await client.get(f"/v1/me/documents/{doc['id']}", headers=patient)).content == PDF


async def test_only_patients_hold_documents(client, dev_token):
    pro = await dev_token(client, role="professional", mailboxes=[DOCTOR])
    r = await client.get("/v1/me/documents", headers=pro)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
    r = await client.get("/v1/me/documents")
    assert r.status_code == 401


async def test_the_same_key_keeps_one_document(client, patient):
    first = await _add(client, patient, PDF, "o.pdf", **{"Idempotency-Key": "k-1"})
    again = await _add(client, patient, PDF, "o.pdf", **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len((await client.get("/v1/me/documents", headers=patient)).json()["items"]) == 1


async def _deliver(mailbox_app: FastAPI, attachments: list[dict[str, Any]]) -> None:
    event = MessageAccepted(
        message_id="m-1",
        conversation_id="c-1",
        sender=Party(address=DOCTOR, kind=PartyKind.PROFESSIONAL, display_name="Dr Martin"),
        recipient=Party(address=PATIENT, kind=PartyKind.PATIENT, display_name="Marie Dupont"),
        subject="Résultats",
        body="Bonjour, voici vos résultats.",
        attachments=tuple(AttachmentRef(**a) for a in attachments),
        read_receipt_requested=False,
        sent_at=datetime.now(UTC),
    )
    async with MailboxUnitOfWork(mailbox_app.state.runtime.db, "mailbox") as uow:
        await deliver_many(uow, [EventEnvelope.wrap(event, correlation_id="test")])
        await uow.commit()


async def test_a_received_attachment_kept_in_my_documents(
    client, patient, other_patient, dev_token, mailbox_app
):
    pro = await dev_token(client, role="professional", mailboxes=[DOCTOR])
    pdf = (
        await client.post("/v1/attachments", files={"file": ("cr.pdf", PDF)}, headers=pro)
    ).json()
    await _deliver(mailbox_app, [pdf])
    url = f"/v1/me/messages/m-1/attachments/{pdf['id']}/save"
    r = await client.post(url, headers=patient | {"Idempotency-Key": "s-1"})
    assert r.status_code == 201, r.text
    saved = r.json()
    assert (saved["filename"], saved["sha256"]) == ("cr.pdf", pdf["sha256"])
    assert (await client.post(url, headers=patient | {"Idempotency-Key": "s-1"})).json() == saved
    assert (await client.get(f"/v1/me/documents/{saved['id']}", headers=patient)).content == PDF
    r = await client.post(url, headers=other_patient)
    assert (r.status_code, r.json()["code"]) == (404, "message_not_found")
    r = await client.post("/v1/me/messages/m-1/attachments/nope/save", headers=patient)
    assert (r.status_code, r.json()["code"]) == (404, "attachment_not_found")


async def test_the_mailbox_unreachable_is_a_503(gateway, dev_token):
    auth = await dev_token(gateway, role="patient", ins=INS)
    r = await gateway.get("/v1/me/documents", headers=auth)
    assert (r.status_code, r.json()["code"]) == (503, "service_unavailable")


def test_the_openapi_names_each_operation_and_the_limit(settings):
    spec = create_app(settings).openapi()
    ops = {
        (path, method): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if "documents" in path or path.endswith("/save")
    }
    assert {op["operationId"] for op in ops.values()} == {
        "listMyDocuments",
        "addMyDocument",
        "downloadMyDocument",
        "deleteMyDocument",
        "saveAttachmentToMyDocuments",
    }
    add = ops[("/v1/me/documents", "post")]
    assert "5,242,880 bytes" in add["description"]
    assert "document_too_large" in str(add["responses"]["413"])
