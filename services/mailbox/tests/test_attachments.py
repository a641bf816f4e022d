"""Attachments: every upload rule with real small files, storage on disk, who may use them."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from mes_contracts.events.parties import AttachmentRef

ALLOWED = [
    ("pdf", "ordonnance.pdf", "application/pdf"),
    ("png", "photo.PNG", "image/png"),
    ("jpeg", "scan.jpg", "image/jpeg"),
    ("jpeg", "scan.jpeg", "image/jpeg"),
    ("tiff", "scan.tif", "image/tiff"),
    ("rtf", "lettre.rtf", "application/rtf"),
    ("doc", "lettre.doc", "application/msword"),
    ("txt", "notes.txt", "text/plain"),
]
REFUSED = [
    ("png", "ordonnance.pdf", 415, "attachment_type_mismatch"),
    ("pdf", "ordonnance", 415, "attachment_type_mismatch"),
    ("exe", "setup.exe", 415, "attachment_type_not_allowed"),
    ("exe", "ordonnance.pdf", 415, "attachment_type_not_allowed"),
    ("xls", "ordonnance.doc", 415, "attachment_type_not_allowed"),
    ("ole-signature", "lettre.doc", 415, "attachment_type_not_allowed"),
]


async def test_allowed_files_are_stored_by_content(service, kit):
    # One service for all cases: starting one per case would dominate the suite's time.
    for kind, filename, content_type in ALLOWED:
        content = kit.FILES[kind]
        r = await service.upload(content, filename)
        assert r.status_code == 201, (filename, r.text)
        sha = hashlib.sha256(content).hexdigest()
        assert r.json() | {"id": "x"} == {
            "id": "x",
            "filename": filename,
            "content_type": content_type,
            "size": len(content),
            "sha256": sha,
        }
        assert (service.settings.resolved_blob_dir / sha[:2] / sha).read_bytes() == content


async def test_refused_files_leave_nothing_behind(service, kit):
    for kind, filename, status, code in REFUSED:
        r = await service.upload(kit.FILES[kind], filename)
        assert (r.status_code, r.json()["code"]) == (status, code), filename
        assert r.headers["content-type"] == "application/problem+json"
    blobs = service.settings.resolved_blob_dir
    assert [p for p in blobs.rglob("*") if p.is_file()] == []


async def test_empty_file(service, kit):
    r = await service.upload(b"", "vide.txt")
    assert (r.status_code, r.json()["code"]) == (422, "attachment_empty")


@pytest.mark.parametrize("settings_overrides", [{"max_message_bytes": 1000}])
async def test_size_limits(service, kit, settings_overrides):
    r = await service.upload(b"%PDF-" + b"0" * 996, "gros.pdf")
    assert (r.status_code, r.json()["code"]) == (413, "attachment_too_large")
    # Way over the limit: the body limit answers before the file is even read.
    r = await service.upload(b"%PDF-" + b"0" * 2_000_000, "enorme.pdf")
    assert r.status_code == 413
    # Each file fits, together they do not: the message's size (with its body) is for the
    # admission to judge, and a professional's message too big is bounced, not refused here.
    refs = [
        (await service.upload(b"%PDF-" + bytes([65 + i]) * 595, f"p{i}.pdf")).json()
        for i in range(2)
    ]
    r = await service.client.post(
        "/internal/attachments/resolve",
        json={"owner": kit.PATIENT, "ids": [ref["id"] for ref in refs]},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"items": refs, "total_bytes": 1200}
    assert [item["size"] for item in r.json()["items"]] == [600, 600]


async def test_file_name_is_sanitized_and_identical_content_stored_once(service, kit):
    first = (await service.upload(kit.FILES["pdf"], "../../etc/ordonnance.pdf")).json()
    second = (await service.upload(kit.FILES["pdf"], "copie.pdf")).json()
    assert first["filename"] == "ordonnance.pdf"
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    blobs = service.settings.resolved_blob_dir
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 1


async def test_resolve_owner_and_forwarding(service, kit):
    mine = (await service.upload(kit.FILES["pdf"], "ordonnance.pdf", owner=kit.DOCTOR)).json()
    url = "/internal/attachments/resolve"
    r = await service.client.post(url, json={"owner": kit.DOCTOR, "ids": [mine["id"]] * 2})
    assert r.status_code == 200
    assert r.json() == {"items": [mine], "total_bytes": mine["size"]}
    r = await service.client.post(url, json={"owner": kit.DOCTOR, "ids": []})
    assert r.json() == {"items": [], "total_bytes": 0}
    # The patient may not send what the doctor uploaded...
    r = await service.client.post(url, json={"owner": kit.PATIENT, "ids": [mine["id"], "nope"]})
    assert (r.status_code, r.json()["code"]) == (422, "attachment_unknown")
    assert r.json()["ids"] == [mine["id"], "nope"]
    # ...until a message carrying it is in the patient's mailbox: then it may forward it.
    await service.deliver(kit.accepted(message_id="m1", attachments=(AttachmentRef(**mine),)))
    r = await service.client.post(url, json={"owner": kit.PATIENT, "ids": [mine["id"]]})
    assert r.status_code == 200 and r.json()["items"] == [mine]


async def test_download_only_by_the_mailboxes_entitled(service, kit):
    content = kit.FILES["pdf"]
    ref = (await service.upload(content, "compte rendu é.pdf", owner=kit.DOCTOR)).json()
    await service.deliver(kit.accepted(message_id="m1", attachments=(AttachmentRef(**ref),)))
    for mailbox in (kit.DOCTOR, kit.PATIENT):
        r = await service.client.get(
            f"/internal/attachments/{ref['id']}", params={"mailbox": mailbox}
        )
        assert r.status_code == 200 and r.content == content
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-disposition"] == (
            "attachment; filename*=UTF-8''" + quote("compte rendu é.pdf", safe="")
        )
    # Both copies list it.
    for address in (kit.DOCTOR, kit.PATIENT):
        (item,) = (await service.listing(address)).json()["items"]
        assert item["attachments"] == [ref]
    stranger = await service.client.get(
        f"/internal/attachments/{ref['id']}", params={"mailbox": kit.OTHER_PATIENT}
    )
    missing = await service.client.get(
        "/internal/attachments/does-not-exist", params={"mailbox": kit.PATIENT}
    )
    assert stranger.status_code == missing.status_code == 404
    assert stranger.json()["code"] == missing.json()["code"] == "attachment_not_found"


async def test_internal_endpoints_need_the_internal_token(service, kit):
    r = await service.client.get(
        f"/internal/mailboxes/{kit.PATIENT}/messages", headers={"X-Internal-Token": "wrong"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "internal_credential_required")


async def test_an_upload_retried_with_its_idempotency_key_is_stored_once(service, kit):
    pdf, png = kit.FILES["pdf"], kit.FILES["png"]

    async def upload(content: bytes, filename: str, key: str, owner: str | None = None) -> Any:
        files = {"file": (filename, content, "application/octet-stream")}
        return await service.client.post(
            "/internal/attachments",
            data={"owner": owner or kit.PATIENT},
            files=files,
            headers={"Idempotency-Key": key},
        )

    first = await upload(pdf, "ordonnance.pdf", "up-1")
    again = await upload(pdf, "ordonnance.pdf", "up-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    # Other bytes, or another name, under the same key: refused, nothing stored.
    for content, filename in ((png, "photo.png"), (pdf, "autre.pdf")):
        reused = await upload(content, filename, "up-1")
        assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    # The key is the uploader's: another one may use the same key for its own upload.
    other = await upload(pdf, "ordonnance.pdf", "up-1", owner=kit.DOCTOR)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    # Without a key, the same file again is another attachment.
    plain = await service.upload(pdf, "ordonnance.pdf")
    assert plain.json()["id"] != first.json()["id"]
    async with service.app.state.runtime.db.reading() as conn:
        rows = (await conn.execute(text("SELECT uploaded_by FROM attachments"))).all()
    assert sorted(r.uploaded_by for r in rows) == sorted([kit.PATIENT, kit.PATIENT, kit.DOCTOR])
