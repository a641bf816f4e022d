"""Attachments: uploaded before the message that references them, read only by someone who
holds such a message (or uploaded it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.responses import StreamingResponse

from mes_contracts.addresses import PatientAddress
from mes_platform.clients import path_segment
from mes_platform.errors import NotFound, Unprocessable

from ..deps import (
    CurrentPrincipal,
    IdempotencyKey,
    MailboxHolder,
    PatientPrincipal,
    ServicesDep,
)
from ..messaging_schemas import AttachmentOut
from ..principal import Principal, Role
from ..problem_docs import AUTHENTICATED, problems
from ..services import ServiceClients
from ..uploads import download_from_mailbox, stream_to_mailbox

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "attachments",
        "description": "Files attached to messages: pdf, jpg/jpeg, "
        "png, tiff, txt, rtf, doc, checked by content; at most 25 Mo per message "
        "(26,214,400 bytes: subject, text and attachments; 1 Mo = 1,048,576 bytes).",
    }
]

router = APIRouter(tags=["attachments"], responses=problems(*AUTHENTICATED))

_UPLOAD_CODES = (
    *AUTHENTICATED,
    "file_required",
    "file_part_not_a_file",
    "one_file_per_upload",
    "attachment_empty",
    "attachment_type_not_allowed",
    "attachment_type_mismatch",
    "invalid_address",
    "concurrent_update",
    "invalid_idempotency_key",
    "idempotency_key_reused",
)
_UPLOAD_DESCRIPTION = (
    "The file is one `multipart/form-data` part named `file`, with its name (`filename`). "
    "Its type is checked by its content: pdf, jpg/jpeg, png, tiff, txt, rtf, doc (415 "
    "`attachment_type_not_allowed`), and it must match the name's extension (415 "
    "`attachment_type_mismatch`). The answer's `id` goes in a message's `attachment_ids`. "
    "The same `Idempotency-Key` stores the file once."
)
_BINARY = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
_FILE_TYPES = (
    "application/octet-stream",
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "text/plain",
    "application/rtf",
    "application/msword",
)
_DOWNLOADED = {
    "description": "The file's bytes, as uploaded, with its type (`Content-Type`) and name "
    "(`Content-Disposition`)",
    "content": {media: {"schema": _BINARY} for media in _FILE_TYPES},
    "headers": {
        "Content-Disposition": {
            "description": "`attachment`, with the file's name",
            "schema": {"type": "string"},
            "example": 'attachment; filename="ordonnance.pdf"',
        },
        "Content-Length": {"description": "The file's size", "schema": {"type": "integer"}},
    },
}
_FILE_DESCRIPTION = "The file, with its name (`filename`); its type is checked by content"


async def one_file_part(request: Request) -> None:
    """Refuse, each with its own code, the forms whose ``file`` is not exactly one file.

    Solved before the body's fields are checked, so that a caller reads what to change rather
    than the framework's words (a part without ``filename`` is a text field to it)."""
    parts = (await request.form()).getlist("file")
    if not parts:
        raise Unprocessable(
            "Send the file as a multipart/form-data part named `file`.", code="file_required"
        )
    if len(parts) > 1:
        raise Unprocessable(
            f"Send one file per upload (this request has {len(parts)} `file` parts).",
            code="one_file_per_upload",
        )
    if not isinstance(parts[0], StarletteUploadFile):
        raise Unprocessable(
            "The `file` part carries no file name: give one with `filename` in its "
            "Content-Disposition (`filename*` is not used in multipart/form-data, RFC 7578).",
            code="file_part_not_a_file",
        )


OneFilePart = Annotated[None, Depends(one_file_part)]


async def _upload(
    services: ServiceClients, owner: str, file: UploadFile, key: str | None
) -> AttachmentOut:
    """The file to the mailbox service, streamed; the mailbox keeps the Idempotency-Key
    with the upload."""
    response = await stream_to_mailbox(
        services,
        "/internal/attachments",
        owner=owner,
        file=file,
        default_name="attachment",
        key=key,
        pass_content_type=True,
    )
    return AttachmentOut.model_validate(response.json())


@router.post(
    "/v1/attachments",
    status_code=201,
    response_model=AttachmentOut,
    operation_id="uploadAttachment",
    summary="Upload an attachment (professional)",
    description=_UPLOAD_DESCRIPTION
    + " `mailbox` names the mailbox that will send it (422 `mailbox_required` when your "
    "token grants several).",
    responses=problems(*_UPLOAD_CODES, "mailbox_not_granted", "mailbox_required"),
)
async def upload(
    principal: MailboxHolder,
    one_file: OneFilePart,
    services: ServicesDep,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description=_FILE_DESCRIPTION)],
    mailbox: Annotated[
        str | None,
        Form(
            max_length=254,
            description=(
                "The mailbox that will send it; optional when your token grants one mailbox"
            ),
        ),
    ] = None,
) -> AttachmentOut:
    if mailbox is None:
        if len(principal.mailboxes) != 1:
            raise Unprocessable(
                "Say which of your mailboxes uploads this file (`mailbox`).",
                code="mailbox_required",
            )
        (mailbox,) = principal.mailboxes
    return await _upload(services, principal.require_mailbox(mailbox), file, key)


@router.post(
    "/v1/me/attachments",
    status_code=201,
    response_model=AttachmentOut,
    operation_id="uploadMyAttachment",
    summary="Upload an attachment (patient)",
    description=_UPLOAD_DESCRIPTION,
    responses=problems(*_UPLOAD_CODES),
)
async def upload_mine(
    principal: PatientPrincipal,
    one_file: OneFilePart,
    services: ServicesDep,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description=_FILE_DESCRIPTION)],
) -> AttachmentOut:
    assert principal.ins is not None
    return await _upload(services, PatientAddress(principal.ins).format(), file, key)


def _mailboxes_of(principal: Principal, mailbox: str | None) -> list[str]:
    if principal.role is Role.PATIENT:
        assert principal.ins is not None
        return [PatientAddress(principal.ins).format()]
    if principal.role in (Role.PROFESSIONAL, Role.APPLICATION):
        if mailbox is not None:
            return [principal.require_mailbox(mailbox)]
        return sorted(principal.mailboxes)
    return []


@router.get(
    "/v1/attachments/{attachment_id}",
    operation_id="downloadAttachment",
    summary="Download an attachment",
    response_class=StreamingResponse,
    responses={
        200: _DOWNLOADED,
        **problems(
            "unauthenticated",
            "invalid_token",
            "service_unavailable",
            "mailbox_not_granted",
            "attachment_not_found",
            "invalid_address",
        ),
    },
)
async def download(
    attachment_id: Annotated[str, Path(max_length=64)],
    principal: CurrentPrincipal,
    services: ServicesDep,
    mailbox: Annotated[str | None, Query(max_length=254)] = None,
) -> StreamingResponse:
    """Only to someone holding a message that references it, or who uploaded it: for anyone
    else it does not exist (404)."""
    for address in _mailboxes_of(principal, mailbox):
        response = await download_from_mailbox(
            services,
            f"/internal/attachments/{path_segment(attachment_id)}",
            {"mailbox": address},
            missing_is_none=True,
        )
        if response is not None:
            return response
    raise NotFound("No such attachment in your mailboxes.", code="attachment_not_found")
