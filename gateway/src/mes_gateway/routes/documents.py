"""The patient's documents (the "Documents" section of the space), kept by the mailbox
service: list, add, download, delete, and keep a received attachment among them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Path, Query, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from mes_contracts.addresses import PatientAddress
from mes_contracts.internal.documents import MAX_DOCUMENT_BYTES, DocumentSaveIn
from mes_platform.clients import path_segment as q
from mes_platform.errors import DomainError

from ..deps import IdempotencyKey, PatientPrincipal, ServicesDep, idempotency_headers
from ..principal import Principal
from ..problem_docs import AUTHENTICATED, problems
from ..services import ServiceClients
from ..uploads import download_from_mailbox, file_size, stream_to_mailbox
from ._messaging_common import relayed
from .attachments import OneFilePart

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "documents",
        "description": "The patient's documents: pdf, jpg/jpeg, png, tiff, txt and rtf files, "
        f"checked by content, at most 5 Mo each ({MAX_DOCUMENT_BYTES:,} bytes: "
        "1 Mo = 1,048,576 bytes, as for the 25 Mo of a message). Only their owner ever "
        "sees, downloads or deletes them; another patient's document answers as a missing one.",
    }
]

router = APIRouter(prefix="/v1/me", tags=["documents"], responses=problems(*AUTHENTICATED))

# application/octet-stream first, as for an attachment: the type generators read as bytes.
_DOCUMENT_TYPES = (
    "application/octet-stream",
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "text/plain",
    "application/rtf",
)
_BINARY = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
_DOWNLOADED = {
    "description": "The document's bytes, with the type its content was recognised as "
    "(`Content-Type`) and its name (`Content-Disposition`)",
    "content": {media: {"schema": _BINARY} for media in _DOCUMENT_TYPES},
    "headers": {
        "Content-Disposition": {
            "description": "`attachment`, with the document's name",
            "schema": {"type": "string"},
            "example": "attachment; filename*=UTF-8''ordonnance.pdf",
        },
        "Content-Length": {"description": "The document's size", "schema": {"type": "integer"}},
    },
}

DocumentId = Annotated[str, Path(max_length=64, description="The document's id")]


class Document(BaseModel):
    id: str
    filename: str
    content_type: str = Field(description="The type its content was recognised as")
    size: int = Field(description="In bytes")
    sha256: str
    created_at: datetime = Field(description="When it entered your documents (UTC)")


class DocumentList(BaseModel):
    items: list[Document]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


def _owner(principal: Principal) -> str:
    assert principal.ins is not None  # guaranteed by the patient role
    return PatientAddress(principal.ins).format()


def _document(path: str, owner: str) -> str:
    return f"/internal/documents{path}?{urlencode({'owner': owner})}"


@router.get(
    "/documents",
    operation_id="listMyDocuments",
    response_model=DocumentList,
    summary="My documents, newest first",
    description="The files kept in your documents, newest first, by pages: pass "
    "`next_cursor` as `cursor` for the next one (422 `invalid_cursor` for a cursor not "
    "given by this list).",
    responses=problems(*AUTHENTICATED, "invalid_cursor", "invalid_address"),
)
async def list_my_documents(
    principal: PatientPrincipal,
    services: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    params: dict[str, Any] = {"owner": _owner(principal), "limit": limit}
    if cursor:
        params["cursor"] = cursor
    answer = await services.get("mailbox", "/internal/documents", params=params)
    return relayed(DocumentList, answer)


@router.post(
    "/documents",
    operation_id="addMyDocument",
    status_code=201,
    response_model=Document,
    summary="Add a file to my documents",
    description="Multipart, one part `file` with its name. Its type is decided by its content "
    "(pdf, jpg/jpeg, png, tiff, txt, rtf; no doc) and the name's extension must agree; at "
    f"most 5 Mo = {MAX_DOCUMENT_BYTES:,} bytes. The same request again with the same "
    "`Idempotency-Key` answers the first document and keeps nothing more.",
    responses=problems(
        *AUTHENTICATED,
        "file_required",
        "file_part_not_a_file",
        "one_file_per_upload",
        "document_empty",
        "document_too_large",
        "document_type_not_allowed",
        "document_type_mismatch",
        "invalid_address",
        "concurrent_update",
        "invalid_idempotency_key",
        "idempotency_key_reused",
    ),
)
async def add_my_document(
    principal: PatientPrincipal,
    one_file: OneFilePart,
    services: ServicesDep,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="The file, with its name (`filename`)")],
) -> Document:
    size = file_size(file)
    if size > MAX_DOCUMENT_BYTES:
        # Refused here, with the mailbox's code, rather than streamed to be refused there.
        raise DomainError(
            f"A document may hold at most {MAX_DOCUMENT_BYTES} bytes (5 Mo).",
            status=413,
            code="document_too_large",
            title="Document too large",
            max_bytes=MAX_DOCUMENT_BYTES,
        )
    return await _stream_to_mailbox(services, _owner(principal), file, key)


async def _stream_to_mailbox(
    services: ServiceClients, owner: str, file: UploadFile, key: str | None
) -> Document:
    """The file to the mailbox, streamed; the mailbox keeps the Idempotency-Key with the
    document and decides its type by its content."""
    response = await stream_to_mailbox(
        services,
        "/internal/documents",
        owner=owner,
        file=file,
        default_name="document",
        key=key,
        pass_content_type=False,
    )
    return Document.model_validate(response.json())


@router.get(
    "/documents/{document_id}",
    operation_id="downloadMyDocument",
    summary="Download one of my documents",
    description="The bytes, with the type their content was recognised as, "
    "`Content-Disposition: attachment` and `X-Content-Type-Options: nosniff`.",
    response_class=StreamingResponse,
    responses={
        200: _DOWNLOADED,
        **problems(*AUTHENTICATED, "document_not_found", "invalid_address"),
    },
)
async def download_my_document(
    document_id: DocumentId, principal: PatientPrincipal, services: ServicesDep
) -> StreamingResponse:
    response = await download_from_mailbox(
        services, f"/internal/documents/{q(document_id)}", {"owner": _owner(principal)}
    )
    assert response is not None
    return response


@router.delete(
    "/documents/{document_id}",
    operation_id="deleteMyDocument",
    status_code=204,
    response_class=Response,
    summary="Delete one of my documents",
    description="204 once deleted; 404 `document_not_found` for an id that is not one of "
    "your documents (or no longer is). Attachments already made from it, in messages sent, "
    "stay whole.",
    responses=problems(*AUTHENTICATED, "document_not_found", "invalid_address"),
)
async def delete_my_document(
    document_id: DocumentId, principal: PatientPrincipal, services: ServicesDep
) -> Response:
    await services.send("mailbox", "DELETE", _document(f"/{q(document_id)}", _owner(principal)))
    return Response(status_code=204)


@router.post(
    "/messages/{message_id}/attachments/{attachment_id}/save",
    operation_id="saveAttachmentToMyDocuments",
    status_code=201,
    response_model=Document,
    summary="Keep a received attachment in my documents",
    description="The attachment of one of your messages becomes one of your documents (the "
    "same bytes), if a document may be of its type (no doc: 415 "
    "`document_type_not_allowed`) and size (413 `document_too_large`). 404 "
    "`message_not_found` for a message not in your mailbox, `attachment_not_found` for an "
    "attachment the message does not carry. The same request again with the same "
    "`Idempotency-Key` answers the first document.",
    responses=problems(
        *AUTHENTICATED,
        "message_not_found",
        "attachment_not_found",
        "document_too_large",
        "document_type_not_allowed",
        "invalid_address",
        "concurrent_update",
        "invalid_idempotency_key",
        "idempotency_key_reused",
    ),
)
async def save_attachment_to_my_documents(
    message_id: Annotated[str, Path(max_length=64)],
    attachment_id: Annotated[str, Path(max_length=64)],
    principal: PatientPrincipal,
    services: ServicesDep,
    key: IdempotencyKey,
) -> Document:
    body = DocumentSaveIn(
        owner=_owner(principal), message_id=message_id, attachment_id=attachment_id
    )
    answer = await services.send(
        "mailbox",
        "POST",
        "/internal/documents/save",
        body=body,
        headers=idempotency_headers(key),
    )
    return Document.model_validate(answer.json())
