"""The patient's notification centre and devices (role ``patient``), and the record of
notifications for operations (role ``ops``); served by the notifier service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mes_contracts.internal.notifier import (
    MAX_PAGE,
    AppNotificationOut,
    AppNotificationPage,
    DeviceIn,
    DeviceOut,
    NotificationRecordPage,
    NotificationState,
)
from mes_platform.clients import path_segment

from ..deps import OpsPrincipal, PatientPrincipal, ServicesDep
from ..problem_docs import AUTHENTICATED, problems

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "notifications",
        "description": "The app's notification centre and the patient's devices (role "
        "`patient`); the record of every notification sent, for operations (role `ops`).",
    }
]

router = APIRouter(tags=["notifications"], responses=problems(*AUTHENTICATED))

_ID = Annotated[str, Path(min_length=1, max_length=40, examples=["ntf-3f2a9c"])]
_CURSOR = Annotated[
    str | None, Query(max_length=400, description="`next_cursor` of the previous page")
]


def _ins(principal: PatientPrincipal) -> str:
    assert principal.ins is not None  # a patient token always carries one
    return path_segment(principal.ins)


@router.get(
    "/v1/me/notifications",
    operation_id="listMyNotifications",
    response_model=AppNotificationPage,
    summary="My notification centre",
    description="The entries of the app's notification centre, newest first, with how many "
    "are unseen in all. An entry only says that a new message waits, never what it says. "
    "Entries exist once the profile is activated and the app installed.",
    responses=problems(*AUTHENTICATED, "invalid_cursor"),
)
async def list_my_notifications(
    principal: PatientPrincipal,
    services: ServicesDep,
    cursor: _CURSOR = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> AppNotificationPage:
    params: dict[str, str | int] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    answer = await services.get(
        "notifier", f"/internal/patients/{_ins(principal)}/notifications", params=params
    )
    return AppNotificationPage.model_validate(answer.json())


@router.post(
    "/v1/me/notifications/{notification_id}/seen",
    operation_id="markMyNotificationSeen",
    response_model=AppNotificationOut,
    summary="Mark a notification seen",
    description="Idempotent: seeing it again keeps the first time.",
    responses=problems(*AUTHENTICATED, "notification_not_found"),
)
async def mark_my_notification_seen(
    notification_id: _ID, principal: PatientPrincipal, services: ServicesDep
) -> AppNotificationOut:
    answer = await services.send(
        "notifier",
        "POST",
        f"/internal/patients/{_ins(principal)}/notifications/{path_segment(notification_id)}/seen",
        idempotent=True,
    )
    return AppNotificationOut.model_validate(answer.json())


@router.post(
    "/v1/me/devices",
    operation_id="registerMyDevice",
    response_model=DeviceOut,
    status_code=201,
    summary="Register the app on a device for pushes",
    description="`token` is the registration token the push provider gave the app. The same "
    "token again answers 200 with the same registration. A token the provider reports "
    "unregistered (app removed) is dropped on the next push.",
    responses={200: {"description": "Already registered", "model": DeviceOut}},
)
async def register_my_device(
    body: DeviceIn, principal: PatientPrincipal, services: ServicesDep, response: Response
) -> DeviceOut:
    answer = await services.send(
        "notifier",
        "POST",
        f"/internal/patients/{_ins(principal)}/devices",
        body=body,
    )
    response.status_code = answer.status_code
    return DeviceOut.model_validate(answer.json())


@router.delete(
    "/v1/me/devices/{device_id}",
    operation_id="removeMyDevice",
    status_code=204,
    response_class=Response,
    summary="Stop pushes to a device",
    description="The device no longer receives pushes; the e-mails go on.",
    responses=problems(*AUTHENTICATED, "device_not_found"),
)
async def remove_my_device(
    device_id: _ID, principal: PatientPrincipal, services: ServicesDep
) -> Response:
    await services.send(
        "notifier",
        "DELETE",
        f"/internal/patients/{_ins(principal)}/devices/{path_segment(device_id)}",
        idempotent=True,
    )
    return Response(status_code=204)


@router.get(
    "/v1/admin/notifications",
    operation_id="listNotificationRecords",
    response_model=NotificationRecordPage,
    summary="Notifications sent, waiting or failed",
    description="Every notification with its state (queued, sent, retrying, failed, "
    "not_notifiable) and attempts, newest first. `recipient` is an e-mail address, an INS, an "
    "MSSanté address or a device id.",
    responses=problems(*AUTHENTICATED, "invalid_cursor"),
)
async def list_notification_records(
    principal: OpsPrincipal,
    services: ServicesDep,
    recipient: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    state: NotificationState | None = None,
    cursor: _CURSOR = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> NotificationRecordPage:
    params: dict[str, str | int] = {"limit": limit}
    if recipient:
        params["recipient"] = recipient
    if state is not None:
        params["state"] = state.value
    if cursor:
        params["cursor"] = cursor
    answer = await services.get("notifier", "/internal/notifications", params=params)
    return NotificationRecordPage.model_validate(answer.json())
