"""A patient's documents (the "Documents" section of the space): files the patient keeps,
typed by content exactly as attachments are, from a shorter list and with a smaller limit.

The list is that of the patient space (DOMAIN.md, public sources) plus png, which the space's
attachments accept too: pdf, jpg/jpeg, png, tiff, txt, rtf; no doc. "5 Mo" is read as the
project reads "25 Mo" for a message: 5 * 1,048,576 = 5,242,880 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mes_contracts.internal.documents import MAX_DOCUMENT_BYTES
from mes_platform.errors import DomainError

from .attachments import AttachmentType, StoredAttachment
from .errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeNotAllowed,
    DocumentEmpty,
    DocumentTooLarge,
    DocumentTypeMismatch,
    DocumentTypeNotAllowed,
)

__all__ = [
    "DOCUMENT_TYPES",
    "MAX_DOCUMENT_BYTES",
    "Document",
    "as_document_refusal",
    "check_document_type",
    "document_too_large",
    "document_type_not_allowed",
]

DOCUMENT_TYPES = frozenset(
    {
        AttachmentType.PDF,
        AttachmentType.JPEG,
        AttachmentType.PNG,
        AttachmentType.TIFF,
        AttachmentType.TXT,
        AttachmentType.RTF,
    }
)
_CONTENT_TYPES = {t.content_type: t for t in DOCUMENT_TYPES}
_ALLOWED_EXTENSIONS = sorted(ext for t in DOCUMENT_TYPES for ext in t.extensions)


@dataclass(frozen=True)
class Document:
    """A file in a patient's documents; its bytes are in the blob store under ``sha256``."""

    id: str
    owner: str
    sha256: str
    size: int
    content_type: str
    filename: str
    created_at: datetime

    def as_attachment(self, attachment_id: str, at: datetime) -> StoredAttachment:
        """A copy the patient may send: the same bytes, name and type, uploaded by its owner."""
        return StoredAttachment(
            id=attachment_id,
            sha256=self.sha256,
            size=self.size,
            content_type=self.content_type,
            filename=self.filename,
            uploaded_by=self.owner,
            created_at=at,
        )


def document_type_not_allowed(why: str = "") -> DocumentTypeNotAllowed:
    return DocumentTypeNotAllowed(
        why + "Only pdf, jpg/jpeg, png, tiff, txt and rtf files may be kept in your documents.",
        allowed=_ALLOWED_EXTENSIONS,
    )


def document_too_large(size: int | None = None) -> DocumentTooLarge:
    refusal = DocumentTooLarge(
        f"A document may hold at most {MAX_DOCUMENT_BYTES} bytes (5 Mo).",
        max_bytes=MAX_DOCUMENT_BYTES,
    )
    if size is not None:
        refusal.extra["size_bytes"] = size
    return refusal


def check_document_type(content_type: str) -> AttachmentType:
    """The type of a stored file kept as a document, or the refusal (a .doc, say)."""
    kind = _CONTENT_TYPES.get(content_type)
    if kind is None:
        raise document_type_not_allowed(f"This file is {content_type}. ")
    return kind


def as_document_refusal(exc: DomainError) -> DomainError:
    """The refusal a document upload answers for what the attachment rules refused: the same
    checks, under the documents' own codes (their limit and their list of types differ)."""
    if isinstance(exc, AttachmentTooLarge):
        return document_too_large()
    if isinstance(exc, AttachmentTypeNotAllowed):
        return document_type_not_allowed()
    if isinstance(exc, AttachmentTypeMismatch):
        return DocumentTypeMismatch(exc.detail, **exc.extra)
    if isinstance(exc, AttachmentEmpty):
        return DocumentEmpty("The document is empty.")
    return exc
