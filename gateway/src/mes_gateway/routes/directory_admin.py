"""The MSSanté mailbox directory, loaded by operations (role ``ops``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mes_contracts.addresses import MailboxType
from mes_contracts.internal.directory import MailboxIn
from mes_platform.clients import path_segment

from ..calls import refused_as_invalid
from ..deps import OpsPrincipal, ServicesDep
from ..messaging_schemas import DirectoryEntryIn, DirectoryEntryOut
from ..openapi import problem_responses

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "directory",
        "description": "MSSanté mailboxes (PER, ORG, APP, CAB), for operations (role `ops`).",
    }
]

router = APIRouter(
    prefix="/v1/admin/mailboxes", tags=["directory"], responses=problem_responses(401, 403, 503)
)

Address = Annotated[str, Path(max_length=254, examples=["dr.martin@hopital-exemple.mssante.fr"])]


@router.put(
    "/{address}",
    response_model=DirectoryEntryOut,
    summary="Register or update an MSSanté mailbox",
    responses={
        201: {"description": "Registered", "model": DirectoryEntryOut},
        **problem_responses(422),
    },
)
async def put_mailbox(
    address: Address,
    body: DirectoryEntryIn,
    principal: OpsPrincipal,
    services: ServicesDep,
    response: Response,
) -> DirectoryEntryOut:
    """A pharmacy is an `ORG` mailbox with a FINESS number and `pharmacy: true`: patients
    may write to it. Idempotent."""
    with refused_as_invalid():
        entry = MailboxIn(
            type=MailboxType(body.type),
            display_name=body.display_name,
            rpps=body.rpps,
            finess=body.finess,
            pharmacy=body.pharmacy,
        )
    answer = await services.send(
        "directory", "PUT", f"/internal/mailboxes/{path_segment(address)}", body=entry
    )
    response.status_code = 201 if answer.status_code == 201 else 200
    return DirectoryEntryOut.model_validate_json(answer.content)


@router.get(
    "/{address}",
    response_model=DirectoryEntryOut,
    summary="One directory entry",
    responses=problem_responses(404, 422),
)
async def get_mailbox(
    address: Address, principal: OpsPrincipal, services: ServicesDep
) -> DirectoryEntryOut:
    answer = await services.get("directory", f"/internal/mailboxes/{path_segment(address)}")
    return DirectoryEntryOut.model_validate_json(answer.content)
