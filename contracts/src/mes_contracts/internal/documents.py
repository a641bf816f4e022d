"""The mailbox service's calls on a patient's documents (the "Documents" section of the space).

``GET /internal/documents?owner=`` lists them (:class:`DocumentPage`, newest first);
``POST /internal/documents`` (multipart ``owner`` + ``file``) stores one (:class:`DocumentOut`);
``GET`` / ``DELETE /internal/documents/{id}?owner=`` download or delete one;
``POST /internal/documents/save`` (:class:`DocumentSaveIn`) keeps an attachment of a message of
the patient's mailbox as a document. Any id that is not a document of ``owner`` answers 404
``document_not_found``.

``POST /internal/documents/attach`` (mailbox): copy some of a patient's documents into stored
attachments that the patient may send, byte for byte. Answers 404 ``document_not_found`` when
any id is not a document of ``owner`` (whether it exists for another patient or not at all),
with those ids in ``ids``, and copies nothing. One attachment per id given, in that order (an
id given twice is copied twice). The attachments outlive the documents: deleting a document
later leaves them whole.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.events.parties import AttachmentRef

__all__ = [
    "MAX_DOCUMENTS_PER_MESSAGE",
    "MAX_DOCUMENT_BYTES",
    "DocumentOut",
    "DocumentPage",
    "DocumentSaveIn",
    "DocumentsAttachIn",
    "DocumentsAttachOut",
]

MAX_DOCUMENTS_PER_MESSAGE = 20
# "5 Mo" read as the project reads the "25 Mo" of a message: 5 * 1,048,576 bytes.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


class DocumentsAttachIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str = Field(
        min_length=3,
        max_length=320,
        description="The patient's address, `<matricule INS>@patient.mssante.fr`.",
    )
    document_ids: tuple[str, ...] = Field(
        min_length=1,
        max_length=MAX_DOCUMENTS_PER_MESSAGE,
        description="The documents to copy, in the order their attachments come back.",
    )
    idempotency_key: str | None = Field(
        default=None,
        max_length=200,
        description="The same key again answers the same attachments and copies nothing more.",
    )


class DocumentsAttachOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    attachments: tuple[AttachmentRef, ...] = Field(
        description="One stored attachment per document, owned by the patient, ready to send."
    )


class DocumentOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    filename: str
    content_type: str = Field(description="The type its content was recognised as.")
    size: int = Field(description="In bytes.")
    sha256: str
    created_at: datetime = Field(description="When it entered the patient's documents (UTC).")


class DocumentPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: tuple[DocumentOut, ...]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class DocumentSaveIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str = Field(
        min_length=3,
        max_length=320,
        description="The patient's address, `<matricule INS>@patient.mssante.fr`.",
    )
    message_id: str = Field(min_length=1, max_length=64, description="A message of its mailbox.")
    attachment_id: str = Field(
        min_length=1, max_length=64, description="One of that message's attachments."
    )
