"""Internal API of the mailbox service (called by the gateway)."""

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

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.internal.mailbox import (
    AttachmentsResolveIn,
    AttachmentsResolveOut,
    MessageOut,
    MessagePageOut,
    ReadOut,
    UnreadCountsOut,
)
from mes_platform.paging import Cursor

from ..domain.identifiers import MAX_ID_LENGTH
from ..domain.messages import Folder
from ..service.attachments import AttachmentService
from ..service.mailboxes import MailboxService
from .schemas import message_of, summary_of

__all__ = ["router"]

router = APIRouter(prefix="/internal", tags=["internal"])


async def _mailboxes(request: Request) -> MailboxService:
    service: MailboxService = request.app.state.mailboxes
    return service


async def _attachments(request: Request) -> AttachmentService:
    service: AttachmentService = request.app.state.attachments
    return service


MailboxServiceDep = Annotated[MailboxService, Depends(_mailboxes)]
AttachmentServiceDep = Annotated[AttachmentService, Depends(_attachments)]
Address = Annotated[str, Path(min_length=3, max_length=320)]
MessageId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]


@router.post("/attachments", status_code=201, response_model=AttachmentRef)
async def upload_attachment(
    file: Annotated[UploadFile, File(description="the attachment's bytes")],
    owner: Annotated[str, Form(min_length=3, max_length=320, description="uploader address")],
    service: AttachmentServiceDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> AttachmentRef:
    """Store an attachment. Its type is decided by its content (pdf, jpeg, png, tiff, rtf, doc,
    text in UTF-8, Windows-1252 or UTF-16); the file name's extension must agree. The same
    upload again with the same Idempotency-Key answers the first reference."""
    return await service.upload(file.file, file.filename, owner, idempotency_key)


@router.post("/attachments/resolve", response_model=AttachmentsResolveOut)
async def resolve_attachments(
    body: AttachmentsResolveIn, service: AttachmentServiceDep
) -> AttachmentsResolveOut:
    """Check the attachments of a message about to be admitted: they exist and ``owner`` may
    send them. Their references come back with their sizes and total; whether the message fits
    the size limit is for the admission to decide, with the body."""
    resolved = await service.resolve(body.owner, body.ids)
    return AttachmentsResolveOut(items=resolved.items, total_bytes=resolved.total_bytes)


@router.get("/attachments/{attachment_id}", response_class=FileResponse)
async def download_attachment(
    attachment_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    mailbox: Annotated[str, Query(min_length=3, max_length=320)],
    service: AttachmentServiceDep,
) -> FileResponse:
    stored, path = await service.open_for(mailbox, attachment_id)
    encoded_name = quote(stored.filename, safe="")
    return FileResponse(
        path,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{encoded_name}",
            # The browser must not second-guess the type we checked.
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/mailboxes/{address}/messages", response_model=MessagePageOut)
async def list_messages(
    address: Address,
    service: MailboxServiceDep,
    folder: Folder | None = None,
    conversation_id: Annotated[str | None, Query(max_length=MAX_ID_LENGTH)] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """Newest first; omit ``folder`` to list both (e.g. a whole conversation)."""
    page = await service.page(
        address, folder=folder, conversation_id=conversation_id, cursor=cursor, limit=limit
    )
    body = MessagePageOut(items=[summary_of(c) for c in page.items], next_cursor=page.next_cursor)
    # The hottest read: serialised once here rather than re-validated by the framework.
    return Response(body.model_dump_json(), media_type="application/json")


@router.post("/mailboxes/{address}/messages/{message_id}/open", response_model=MessageOut)
async def open_message(
    address: Address, message_id: MessageId, service: MailboxServiceDep
) -> Response:
    """The message as its owner opens it (the only way to fetch one: a professional's software
    as a patient's app): the first opening marks it read and sends the receipt its sender
    asked for; idempotent. Serialised once here, as the listing is."""
    body = message_of(await service.open(address, message_id))
    return Response(body.model_dump_json(), media_type="application/json")


@router.post("/mailboxes/{address}/messages/{message_id}/read", response_model=ReadOut)
async def mark_read(address: Address, message_id: MessageId, service: MailboxServiceDep) -> ReadOut:
    """Idempotent; the first read of a message whose sender asked for it sends the receipt."""
    return ReadOut(read_at=await service.mark_read(address, message_id))


@router.get("/mailboxes/{address}/unread-counts", response_model=UnreadCountsOut)
async def unread_counts(
    address: Address,
    service: MailboxServiceDep,
    conversation_id: Annotated[list[str] | None, Query(max_length=200)] = None,
) -> UnreadCountsOut:
    """Of the whole mailbox, or of the conversations named (``conversation_id`` repeated)."""
    counts = await service.unread_counts(address, conversation_id)
    return UnreadCountsOut(total=counts.total, by_conversation=counts.by_conversation)
