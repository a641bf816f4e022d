"""Internal API of a patient's documents (called by the gateway, and by the pharmacy flow to
attach documents to a message). The models are ``mes_contracts.internal.documents``."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse

from mes_contracts.internal.documents import (
    DocumentOut,
    DocumentPage,
    DocumentsAttachIn,
    DocumentsAttachOut,
    DocumentSaveIn,
)

from ..domain.documents import Document
from ..domain.identifiers import MAX_ID_LENGTH
from ..service.documents import DocumentService

__all__ = ["router"]

router = APIRouter(prefix="/internal/documents", tags=["internal"])


async def _documents(request: Request) -> DocumentService:
    service: DocumentService = request.app.state.documents
    return service


DocumentServiceDep = Annotated[DocumentService, Depends(_documents)]
Owner = Annotated[str, Query(min_length=3, max_length=320, description="the patient's address")]
DocumentId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


def _out(d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        filename=d.filename,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        created_at=d.created_at,
    )


@router.get("", response_model=DocumentPage)
async def list_documents(
    owner: Owner,
    service: DocumentServiceDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DocumentPage:
    """Newest first."""
    page = await service.page(owner, cursor=cursor, limit=limit)
    return DocumentPage(items=tuple(_out(d) for d in page.items), next_cursor=page.next_cursor)


@router.post("", status_code=201, response_model=DocumentOut)
async def upload_document(
    file: Annotated[UploadFile, File(description="the document's bytes")],
    owner: Annotated[str, Form(min_length=3, max_length=320, description="the patient")],
    service: DocumentServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> DocumentOut:
    """Keep a file among the patient's documents: pdf, jpeg, png, tiff, txt or rtf by content,
    the name's extension agreeing, at most 5,242,880 bytes (5 Mo)."""
    return _out(await service.upload(file.file, file.filename, owner, idempotency_key))


@router.post("/save", status_code=201, response_model=DocumentOut)
async def save_attachment(
    body: DocumentSaveIn, service: DocumentServiceDep, idempotency_key: IdempotencyKey = None
) -> DocumentOut:
    """Keep an attachment of a message of the patient's mailbox among its documents."""
    document = await service.save_attachment(
        body.owner, body.message_id, body.attachment_id, idempotency_key
    )
    return _out(document)


@router.post("/attach", response_model=DocumentsAttachOut)
async def attach_documents(
    body: DocumentsAttachIn, service: DocumentServiceDep
) -> DocumentsAttachOut:
    """Copy documents into attachments the patient may send, byte for byte, in order."""
    refs = await service.attach(body.owner, body.document_ids, body.idempotency_key)
    return DocumentsAttachOut(attachments=tuple(refs))


@router.get("/{document_id}", response_class=FileResponse)
async def download_document(
    document_id: DocumentId, owner: Owner, service: DocumentServiceDep
) -> FileResponse:
    document, path = await service.open_for(owner, document_id)
    encoded_name = quote(document.filename, safe="")
    return FileResponse(
        path,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{encoded_name}",
            # The browser must not second-guess the type we checked.
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{document_id}", status_code=204)
async def delete_document(
    document_id: DocumentId, owner: Owner, service: DocumentServiceDep
) -> Response:
    await service.delete(owner, document_id)
    return Response(status_code=204)
