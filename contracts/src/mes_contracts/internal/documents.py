"""The mailbox service's calls on a patient's documents (the "Documents" section of the space).

``POST /internal/documents/attach`` (mailbox): copy some of a patient's documents into stored
attachments that the patient may send, byte for byte. Answers 404 ``document_not_found`` when
any id is not a document of ``owner`` (whether it exists for another patient or not at all).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.events.parties import AttachmentRef

__all__ = ["DocumentsAttachIn", "DocumentsAttachOut"]

MAX_DOCUMENTS_PER_MESSAGE = 20


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
