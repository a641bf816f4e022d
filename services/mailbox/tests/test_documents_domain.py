"""The documents' rules alone: which stored files may become documents, and the refusals an
upload answers under the documents' own codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mes_mailbox.domain.documents import (
    MAX_DOCUMENT_BYTES,
    Document,
    as_document_refusal,
    check_document_type,
)
from mes_mailbox.domain.errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeNotAllowed,
    DocumentTypeNotAllowed,
)


def test_five_mo_is_counted_in_mebibytes_as_a_message_s_25_mo():
    assert MAX_DOCUMENT_BYTES == 5_242_880


@pytest.mark.parametrize(
    "content_type",
    ["application/pdf", "image/jpeg", "image/png", "image/tiff", "text/plain", "application/rtf"],
)
def test_the_space_s_types_may_be_documents(content_type):
    assert check_document_type(content_type).content_type == content_type


def test_a_word_document_may_be_attached_but_not_kept():
    with pytest.raises(DocumentTypeNotAllowed) as refused:
        check_document_type("application/msword")
    assert "doc" not in refused.value.extra["allowed"]
    assert {"pdf", "jpg", "jpeg", "png", "tif", "tiff", "txt", "rtf"} == set(
        refused.value.extra["allowed"]
    )


@pytest.mark.parametrize(
    ("attachment_refusal", "code", "status"),
    [
        (AttachmentTooLarge("x", max_bytes=1), "document_too_large", 413),
        (AttachmentTypeNotAllowed("x"), "document_type_not_allowed", 415),
        (AttachmentTypeMismatch("x", detected_type="png"), "document_type_mismatch", 415),
        (AttachmentEmpty("x"), "document_empty", 422),
    ],
)
def test_upload_refusals_speak_of_documents(attachment_refusal, code, status):
    refusal = as_document_refusal(attachment_refusal)
    assert (refusal.code, refusal.status) == (code, status)  # type: ignore[attr-defined]


def test_a_document_copied_as_an_attachment_keeps_its_bytes_and_owner():
    at = datetime(2024, 5, 2, tzinfo=UTC)
    doc = Document(
        "d-1", "279035121518989@patient.mssante.fr", "ab" * 32, 42, "image/png", "a.png", at
    )
    ref = doc.as_attachment("a-1", at).ref
    assert (ref.id, ref.sha256, ref.size, ref.filename, ref.content_type) == (
        "a-1",
        doc.sha256,
        42,
        "a.png",
        "image/png",
    )
    assert doc.as_attachment("a-1", at).uploaded_by == doc.owner
