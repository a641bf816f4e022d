"""Attachments: uploaded before the message that references them, read only by someone who
holds such a message (or uploaded it)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from mes_contracts.addresses import PatientAddress
from mes_platform.clients import path_segment
from mes_platform.errors import NotFound, Unprocessable

from ..deps import CurrentPrincipal, MailboxHolder, PatientPrincipal, ServicesDep
from ..errors import ServiceUnavailable
from ..messaging_schemas import AttachmentOut
from ..openapi import problem_responses
from ..principal import Principal, Role
from ..services import ServiceClients, raise_for_problem

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "attachments",
        "description": "Files attached to messages: pdf, jpg/jpeg, "
        "png, tiff, txt, rtf, doc, checked by content; 25 MB per message.",
    }
]

router = APIRouter(tags=["attachments"], responses=problem_responses(401, 403, 503))

_UPLOAD_RESPONSES = problem_responses(413, 415, 422)
_FORWARDED = ("content-type", "content-length", "content-disposition", "x-content-type-options")


async def _upload(services: ServiceClients, owner: str, file: UploadFile) -> AttachmentOut:
    client = services.client("mailbox")
    try:
        response = await client.post(
            "/internal/attachments",
            data={"owner": owner},
            files={
                "file": (
                    file.filename or "attachment",
                    file.file,
                    file.content_type or "application/octet-stream",
                )
            },
        )
    except httpx.TransportError as exc:
        raise ServiceUnavailable("mailbox") from exc
    raise_for_problem("mailbox", response)
    return AttachmentOut.model_validate(response.json())


@router.post(
    "/v1/attachments",
    status_code=201,
    response_model=AttachmentOut,
    summary="Upload an attachment (professional)",
    responses=_UPLOAD_RESPONSES,
)
async def upload(
    principal: MailboxHolder,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="The file; its type is checked by content")],
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
    return await _upload(services, principal.require_mailbox(mailbox), file)


@router.post(
    "/v1/me/attachments",
    status_code=201,
    response_model=AttachmentOut,
    summary="Upload an attachment (patient)",
    responses=_UPLOAD_RESPONSES,
)
async def upload_mine(
    principal: PatientPrincipal,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="The file; its type is checked by content")],
) -> AttachmentOut:
    assert principal.ins is not None
    return await _upload(services, PatientAddress(principal.ins).format(), file)


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
    summary="Download an attachment",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **problem_responses(404)},
)
async def download(
    attachment_id: Annotated[str, Path(max_length=64)],
    principal: CurrentPrincipal,
    services: ServicesDep,
    mailbox: Annotated[str | None, Query(max_length=254)] = None,
) -> StreamingResponse:
    """Only to someone holding a message that references it, or who uploaded it: for anyone
    else it does not exist (404)."""
    client = services.client("mailbox")
    for address in _mailboxes_of(principal, mailbox):
        request = client.build_request(
            "GET",
            f"/internal/attachments/{path_segment(attachment_id)}",
            params={"mailbox": address},
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ServiceUnavailable("mailbox") from exc
        if response.status_code == 404:
            await response.aclose()
            continue
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise_for_problem("mailbox", response)
        headers = {k: v for k, v in response.headers.items() if k.lower() in _FORWARDED}
        return StreamingResponse(
            response.aiter_raw(),
            status_code=200,
            headers=headers,
            background=BackgroundTask(response.aclose),
        )
    raise NotFound("No such attachment in your mailboxes.", code="attachment_not_found")
