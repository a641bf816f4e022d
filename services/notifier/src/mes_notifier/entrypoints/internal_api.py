"""Internal API of the notifier (called by the gateway); models in
``mes_contracts.internal.notifier``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from mes_contracts.ins import Ins
from mes_contracts.internal.notifier import (
    MAX_PAGE,
    AppNotificationOut,
    AppNotificationPage,
    DeviceIn,
    DeviceOut,
    NotificationRecordPage,
    NotificationState,
)

from ..service.centre import NotificationCentre

__all__ = ["router"]

router = APIRouter(prefix="/internal", tags=["internal"])


async def _centre(request: Request) -> NotificationCentre:
    centre: NotificationCentre = request.app.state.centre
    return centre


CentreDep = Annotated[NotificationCentre, Depends(_centre)]
PatientIns = Annotated[Ins, Path(description="Matricule INS of the patient")]
EntryId = Annotated[str, Path(min_length=1, max_length=40)]
Cursor = Annotated[str | None, Query(max_length=400)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/patients/{ins}/notifications", response_model=AppNotificationPage)
async def list_notifications(
    ins: PatientIns, centre: CentreDep, cursor: Cursor = None, limit: Limit = 20
) -> AppNotificationPage:
    return await centre.list_for(str(ins), cursor, limit)


@router.post("/patients/{ins}/notifications/{entry_id}/seen", response_model=AppNotificationOut)
async def mark_seen(ins: PatientIns, entry_id: EntryId, centre: CentreDep) -> AppNotificationOut:
    return await centre.mark_seen(str(ins), entry_id)


@router.post("/patients/{ins}/devices", response_model=DeviceOut, status_code=201)
async def register_device(
    ins: PatientIns, body: DeviceIn, centre: CentreDep, response: Response
) -> DeviceOut:
    device, new = await centre.register_device(str(ins), body)
    response.status_code = 201 if new else 200
    return device


@router.delete("/patients/{ins}/devices/{device_id}", status_code=204)
async def remove_device(ins: PatientIns, device_id: EntryId, centre: CentreDep) -> Response:
    await centre.remove_device(str(ins), device_id)
    return Response(status_code=204)


@router.get("/notifications", response_model=NotificationRecordPage)
async def list_records(
    centre: CentreDep,
    recipient: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    state: NotificationState | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> NotificationRecordPage:
    return await centre.records(recipient, state, cursor, limit)
