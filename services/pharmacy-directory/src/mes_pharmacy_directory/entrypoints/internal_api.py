"""Internal API of the directory (called by the gateway, conversation and notifier)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from mes_contracts.addresses import MailboxType
from mes_contracts.internal.directory import MailboxIn, MailboxOut, MailboxPageOut

from ..domain.model import MailboxEntry, Registration, decode_cursor
from ..service.directory import DirectoryService, MailboxQuery, RegisterMailbox

__all__ = ["router"]

router = APIRouter(prefix="/internal", tags=["internal"])

MAX_PAGE = 200


async def _service(request: Request) -> DirectoryService:
    service: DirectoryService = request.app.state.directory
    return service


DirectoryServiceDep = Annotated[DirectoryService, Depends(_service)]
AddressPath = Annotated[str, Path(max_length=320)]


def _out(e: MailboxEntry) -> MailboxOut:
    return MailboxOut(
        address=e.address,
        type=e.type,
        display_name=e.display_name,
        rpps=e.rpps,
        finess=e.finess,
        pharmacy=e.pharmacy,
        updated_at=e.updated_at,
        alert_email=e.alert_email,
    )


@router.put(
    "/mailboxes/{address}",
    response_model=MailboxOut,
    responses={201: {"model": MailboxOut, "description": "Registered"}},
)
async def put_mailbox(
    address: AddressPath, body: MailboxIn, service: DirectoryServiceDep, response: Response
) -> MailboxOut:
    """Register or replace a mailbox: 201 when new, 200 otherwise (identical replays too)."""
    entry, outcome = await service.register(
        RegisterMailbox(
            address=address,
            type=body.type,
            display_name=body.display_name,
            rpps=body.rpps,
            finess=body.finess,
            pharmacy=body.pharmacy,
            alert_email=body.alert_email,
        )
    )
    response.status_code = 201 if outcome is Registration.CREATED else 200
    return _out(entry)


@router.get("/mailboxes/{address}", response_model=MailboxOut)
async def get_mailbox(address: AddressPath, service: DirectoryServiceDep) -> MailboxOut:
    """The entry of one mailbox; the address is matched case-insensitively."""
    return _out(await service.get(address))


@router.get("/mailboxes", response_model=MailboxPageOut)
async def search_mailboxes(
    service: DirectoryServiceDep,
    type: Annotated[MailboxType | None, Query()] = None,
    pharmacy: Annotated[bool | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="name, address, RPPS or FINESS fragment"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> MailboxPageOut:
    """Directory search in address order, accent- and case-insensitive on ``q``."""
    page = await service.search(
        MailboxQuery(
            type=type,
            pharmacy=pharmacy,
            q=q,
            limit=limit,
            after=decode_cursor(cursor) if cursor else None,
        )
    )
    return MailboxPageOut(items=[_out(e) for e in page.items], next_cursor=page.next_cursor)
