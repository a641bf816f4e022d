"""A patient's documents on both engines: kept by content, listed newest first, downloaded,
deleted and saved from attachments by their owner only, and copied into attachments to send."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from mes_contracts.events.parties import AttachmentRef
from mes_mailbox.adapters.uow import MailboxUnitOfWork, read_side
from mes_mailbox.domain.attachments import ContentSniffer, StoredAttachment
from mes_mailbox.service.documents import DocumentService

LIMIT = 5 * 1024 * 1024


@pytest.fixture
def service_database_url(database_url):
    return database_url


async def _keep(
    service: Any, content: bytes, filename: str, owner: str, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    files = {"file": (filename, content, "application/octet-stream")}
    return await service.client.post(
        "/internal/documents", data={"owner": owner}, files=files, headers=headers
    )


def _blob_files(service: Any) -> list[Path]:
    return [
        p
        for p in service.settings.resolved_blob_dir.rglob("*")
        if p.is_file() and p.parent.name != "incoming"
    ]


async def test_documents_are_kept_by_content_and_refused_with_their_own_codes(service, kit):
    for kind, filename, content_type in [
        ("pdf", "ordonnance.pdf", "application/pdf"),
        ("jpeg", "scan.JPG", "image/jpeg"),
        ("png", "photo.png", "image/png"),
        ("tiff", "scan.tiff", "image/tiff"),
        ("txt", "notes.txt", "text/plain"),
        ("rtf", "lettre.rtf", "application/rtf"),
    ]:
        r = await _keep(service, kit.FILES[kind], filename, kit.PATIENT)
        assert r.status_code == 201, (filename, r.text)
        body = r.json()
        assert (body["filename"], body["content_type"], body["size"]) == (
            filename,
            content_type,
            len(kit.FILES[kind]),
        )
        assert body["sha256"] == hashlib.sha256(kit.FILES[kind]).hexdigest()
    kept = len(_blob_files(service))
    for kind, filename, status, code in [
        # A Word document may be attached to a message, not kept in the documents.
        ("doc", "lettre.doc", 415, "document_type_not_allowed"),
        ("exe", "setup.exe", 415, "document_type_not_allowed"),
        ("png", "ordonnance.pdf", 415, "document_type_mismatch"),
        ("pdf", "ordonnance", 415, "document_type_mismatch"),
    ]:
        r = await _keep(service, kit.FILES[kind], filename, kit.PATIENT)
        assert (r.status_code, r.json()["code"]) == (status, code), filename
        assert r.headers["content-type"] == "application/problem+json"
    r = await _keep(service, b"", "vide.txt", kit.PATIENT)
    assert (r.status_code, r.json()["code"]) == (422, "document_empty")
    assert len(_blob_files(service)) == kept
    r = await _keep(service, kit.FILES["pdf"], "ordonnance.pdf", kit.DOCTOR)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_address")


async def test_five_mo_is_5_242_880_bytes(service, kit):
    r = await _keep(service, b"%PDF-" + b"0" * (LIMIT - 5), "limite.pdf", kit.PATIENT)
    assert r.status_code == 201, r.text
    assert r.json()["size"] == LIMIT
    r = await _keep(service, b"%PDF-" + b"0" * (LIMIT - 4), "trop.pdf", kit.PATIENT)
    assert (r.status_code, r.json()["code"]) == (413, "document_too_large")
    assert r.json()["max_bytes"] == LIMIT
    # Far over: the body limit answers before the file is read.
    r = await _keep(service, b"%PDF-" + b"0" * (3 * LIMIT), "enorme.pdf", kit.PATIENT)
    assert r.status_code == 413
    assert len(_blob_files(service)) == 1


async def test_listing_is_newest_first_with_cursors_and_only_mine(service, kit):
    ids = []
    for i in range(5):
        r = await _keep(service, f"note {i}\n".encode(), f"note{i}.txt", kit.PATIENT)
        ids.append(r.json()["id"])
    await _keep(service, kit.FILES["pdf"], "autre.pdf", kit.OTHER_PATIENT)
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"owner": kit.PATIENT, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await service.client.get("/internal/documents", params=params)
        assert r.status_code == 200, r.text
        seen += [item["filename"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"note{i}.txt" for i in reversed(range(5))]
    r = await service.client.get(
        "/internal/documents", params={"owner": kit.PATIENT, "cursor": "bm90LWEtY3Vyc29y"}
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor")


async def test_download_and_delete_only_my_documents(service, kit):
    content = kit.FILES["pdf"]
    doc = (await _keep(service, content, "compte rendu é.pdf", kit.PATIENT)).json()
    url = f"/internal/documents/{doc['id']}"
    r = await service.client.get(url, params={"owner": kit.PATIENT})
    assert r.status_code == 200 and r.content == content
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''" + quote("compte rendu é.pdf", safe="")
    )
    for method in ("GET", "DELETE"):
        stranger = await service.client.request(method, url, params={"owner": kit.OTHER_PATIENT})
        missing = await service.client.request(
            method, "/internal/documents/nope", params={"owner": kit.PATIENT}
        )
        assert stranger.status_code == missing.status_code == 404
        assert stranger.json()["code"] == missing.json()["code"] == "document_not_found"
    r = await service.client.delete(url, params={"owner": kit.PATIENT})
    assert r.status_code == 204
    r = await service.client.delete(url, params={"owner": kit.PATIENT})
    assert (r.status_code, r.json()["code"]) == (404, "document_not_found")
    r = await service.client.get(url, params={"owner": kit.PATIENT})
    assert r.status_code == 404
    # Nothing references the bytes any more: they are gone.
    assert _blob_files(service) == []


async def test_bytes_stay_while_anything_references_them(service, kit):
    content = kit.FILES["png"]
    first = (await _keep(service, content, "a.png", kit.PATIENT)).json()
    second = (await _keep(service, content, "b.png", kit.OTHER_PATIENT)).json()
    r = await service.client.post(
        "/internal/documents/attach", json={"owner": kit.PATIENT, "document_ids": [first["id"]]}
    )
    (copy,) = r.json()["attachments"]
    for doc, owner in ((first, kit.PATIENT), (second, kit.OTHER_PATIENT)):
        r = await service.client.delete(f"/internal/documents/{doc['id']}", params={"owner": owner})
        assert r.status_code == 204
    # The attachment copied from the first document stays whole.
    r = await service.client.get(
        f"/internal/attachments/{copy['id']}", params={"mailbox": kit.PATIENT}
    )
    assert r.status_code == 200 and r.content == content
    assert len(_blob_files(service)) == 1


async def test_attach_copies_my_documents_in_order_idempotently(service, kit):
    pdf = (await _keep(service, kit.FILES["pdf"], "ordonnance.pdf", kit.PATIENT)).json()
    txt = (await _keep(service, kit.FILES["txt"], "mot.txt", kit.PATIENT)).json()
    other = (await _keep(service, kit.FILES["rtf"], "x.rtf", kit.OTHER_PATIENT)).json()
    body = {"owner": kit.PATIENT, "document_ids": [txt["id"], pdf["id"]], "idempotency_key": "k1"}
    r = await service.client.post("/internal/documents/attach", json=body)
    assert r.status_code == 200, r.text
    refs = r.json()["attachments"]
    assert [(a["filename"], a["sha256"], a["size"]) for a in refs] == [
        (d["filename"], d["sha256"], d["size"]) for d in (txt, pdf)
    ]
    # The same key again answers the same attachments.
    again = await service.client.post("/internal/documents/attach", json=body)
    assert again.json() == r.json()
    r = await service.client.post(
        "/internal/documents/attach", json=body | {"document_ids": [pdf["id"]]}
    )
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    # The patient may send them; byte for byte what the documents hold.
    r = await service.client.post(
        "/internal/attachments/resolve",
        json={"owner": kit.PATIENT, "ids": [a["id"] for a in refs]},
    )
    assert r.status_code == 200 and r.json()["items"] == refs
    r = await service.client.get(
        f"/internal/attachments/{refs[1]['id']}", params={"mailbox": kit.PATIENT}
    )
    assert r.content == kit.FILES["pdf"]
    # Another patient's document, or none, refuses the whole call and copies nothing.
    r = await service.client.post(
        "/internal/documents/attach",
        json={"owner": kit.PATIENT, "document_ids": [pdf["id"], other["id"], "nope"]},
    )
    assert (r.status_code, r.json()["code"]) == (404, "document_not_found")
    assert r.json()["ids"] == [other["id"], "nope"]


async def test_a_received_attachment_saved_in_my_documents(service, kit, tmp_path):
    pdf = (await service.upload(kit.FILES["pdf"], "resultats.pdf", owner=kit.DOCTOR)).json()
    doc = (await service.upload(kit.FILES["doc"], "lettre.doc", owner=kit.DOCTOR)).json()
    big = (await service.upload(b"%PDF-" + b"1" * LIMIT, "imagerie.pdf", owner=kit.DOCTOR)).json()
    await service.deliver(
        kit.accepted(
            message_id="m1",
            attachments=tuple(AttachmentRef(**a) for a in (pdf, doc, big)),
        )
    )
    url = "/internal/documents/save"

    async def save(owner: str, attachment_id: str, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return await service.client.post(
            url,
            json={"owner": owner, "message_id": "m1", "attachment_id": attachment_id},
            headers=headers,
        )

    r = await save(kit.PATIENT, pdf["id"], key="save-1")
    assert r.status_code == 201, r.text
    saved = r.json()
    assert (saved["filename"], saved["sha256"]) == ("resultats.pdf", pdf["sha256"])
    assert (await save(kit.PATIENT, pdf["id"], key="save-1")).json() == saved
    listed = await service.client.get("/internal/documents", params={"owner": kit.PATIENT})
    assert [d["id"] for d in listed.json()["items"]] == [saved["id"]]
    r = await service.client.get(
        f"/internal/documents/{saved['id']}", params={"owner": kit.PATIENT}
    )
    assert r.content == kit.FILES["pdf"]
    for owner, attachment_id, status, code in [
        (kit.PATIENT, doc["id"], 415, "document_type_not_allowed"),
        (kit.PATIENT, big["id"], 413, "document_too_large"),
        (kit.PATIENT, "nope", 404, "attachment_not_found"),
        # The message is not in this patient's mailbox.
        (kit.OTHER_PATIENT, pdf["id"], 404, "message_not_found"),
    ]:
        r = await save(owner, attachment_id)
        assert (r.status_code, r.json()["code"]) == (status, code), attachment_id


async def test_an_upload_retried_with_its_key_is_kept_once(service, kit):
    first = await _keep(service, kit.FILES["pdf"], "o.pdf", kit.PATIENT, key="u-1")
    again = await _keep(service, kit.FILES["pdf"], "o.pdf", kit.PATIENT, key="u-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await _keep(service, kit.FILES["png"], "o.png", kit.PATIENT, key="u-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    listed = await service.client.get("/internal/documents", params={"owner": kit.PATIENT})
    assert len(listed.json()["items"]) == 1


def _kept_bytes(service: Any, sha256: str) -> bytes | None:
    path = service.settings.resolved_blob_dir / sha256[:2] / sha256
    return path.read_bytes() if path.is_file() else None


async def test_an_upload_of_the_same_bytes_during_a_deletion_keeps_them(service, kit):
    """The upload's bytes were in place (the document's) before its row committed; the
    deletion took them meanwhile: once its row is in, the upload puts them back."""
    content = kit.FILES["png"]
    doc = (await _keep(service, content, "a.png", kit.PATIENT)).json()
    blobs = service.app.state.documents.blobs
    pending = blobs.receive(io.BytesIO(content), ContentSniffer(LIMIT))
    blobs.commit(pending)
    r = await service.client.delete(
        f"/internal/documents/{doc['id']}", params={"owner": kit.PATIENT}
    )
    assert r.status_code == 204
    assert _kept_bytes(service, doc["sha256"]) is None
    blobs.settle(pending)  # the upload's row has committed
    assert _kept_bytes(service, doc["sha256"]) == content
    assert not pending.temp_path.exists()


async def test_bytes_named_again_while_being_removed_are_put_back(service, kit):
    """A row naming the bytes commits after the deletion looked once: the second look, with
    the bytes moved aside, sees it and puts them back."""
    content = kit.FILES["pdf"]
    doc = (await _keep(service, content, "o.pdf", kit.PATIENT)).json()
    db = service.app.state.runtime.db
    real_reader = read_side(db)
    looks = 0

    @asynccontextmanager
    async def reader() -> AsyncIterator[Any]:
        nonlocal looks
        looks += 1
        if looks == 2:
            async with MailboxUnitOfWork(db, "mailbox") as uow:
                await uow.attachments.add(
                    StoredAttachment(
                        "att-race",
                        doc["sha256"],
                        len(content),
                        "application/pdf",
                        "o.pdf",
                        kit.DOCTOR,
                        datetime.now(UTC),
                    )
                )
                await uow.commit()
        async with real_reader() as repos:
            yield repos

    documents = service.app.state.documents
    racing = DocumentService(lambda: MailboxUnitOfWork(db, "mailbox"), reader, documents.blobs)
    await racing.delete(kit.PATIENT, doc["id"])
    assert looks == 2
    assert _kept_bytes(service, doc["sha256"]) == content
    r = await service.client.get("/internal/attachments/att-race", params={"mailbox": kit.DOCTOR})
    assert r.status_code == 200 and r.content == content


async def test_the_documents_calls_need_the_internal_token(service, kit):
    for method, path in (
        ("GET", "/internal/documents"),
        ("POST", "/internal/documents/attach"),
        ("DELETE", "/internal/documents/d-1"),
    ):
        r = await service.client.request(
            method, path, params={"owner": kit.PATIENT}, headers={"X-Internal-Token": "wrong"}
        )
        assert (r.status_code, r.json()["code"]) == (401, "internal_credential_required"), path
