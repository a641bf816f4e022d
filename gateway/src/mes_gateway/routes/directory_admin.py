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
from ..problem_docs import AUTHENTICATED, problems

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "directory",
        "description": "MSSanté mailboxes (PER, ORG, APP, CAB), for operations (role `ops`).",
    }
]

router = APIRouter(
    prefix="/v1/admin/mailboxes", tags=["directory"], responses=problems(*AUTHENTICATED)
)

Address = Annotated[str, Path(max_length=254, examples=["dr.martin@hopital-exemple.mssante.fr"])]


@router.put(
    "/{address}",
    response_model=DirectoryEntryOut,
    operation_id="registerMailbox",
    summary="Register or update an MSSanté mailbox",
    responses={
        200: {"description": "Updated (or unchanged)"},
        201: {"description": "Registered", "model": DirectoryEntryOut},
        **problems(
            *AUTHENTICATED,
            "invalid_address",
            "invalid_finess",
            "invalid_rpps",
            "invalid_name",
            "name_too_long",
            "pharmacy_requires_org",
            "invalid_alert_email",
        ),
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
            alert_email=body.alert_email,
        )
    answer = await services.send(
        "directory", "PUT", f"/internal/mailboxes/{path_segment(address)}", body=entry
    )
    response.status_code = 201 if answer.status_code == 201 else 200
    return DirectoryEntryOut.model_validate_json(answer.content)


@router.get(
    "/{address}",
    response_model=DirectoryEntryOut,
    operation_id="getDirectoryEntry",
    summary="One directory entry",
    description="The mailbox's type, display name, RPPS or FINESS number, and whether it is "
    "a pharmacy's.",
    responses=problems(*AUTHENTICATED, "mailbox_not_found", "invalid_address"),
)
async def get_mailbox(
    address: Address, principal: OpsPrincipal, services: ServicesDep
) -> DirectoryEntryOut:
    answer = await services.get("directory", f"/internal/mailboxes/{path_segment(address)}")
    return DirectoryEntryOut.model_validate_json(answer.content)
