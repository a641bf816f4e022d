"""The notifier service's calls: a patient's notification centre and devices, and the record
of every notification for operations.

- ``GET /internal/patients/{ins}/notifications?cursor=&limit=`` → :class:`AppNotificationPage`
- ``POST /internal/patients/{ins}/notifications/{id}/seen`` → :class:`AppNotificationOut`
  (404 ``notification_not_found``)
- ``POST /internal/patients/{ins}/devices`` :class:`DeviceIn` → :class:`DeviceOut` (201 when
  new, 200 when the token was registered already)
- ``DELETE /internal/patients/{ins}/devices/{id}`` → 204 (404 ``device_not_found``)
- ``GET /internal/notifications?recipient=&state=&cursor=&limit=`` → :class:`NotificationRecordPage`

A listing's cursor is opaque; one the service did not issue answers 422 ``invalid_cursor``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AppNotificationOut",
    "AppNotificationPage",
    "DeviceIn",
    "DeviceOut",
    "DevicePlatform",
    "NotificationKind",
    "NotificationRecord",
    "NotificationRecordPage",
    "NotificationState",
]

MAX_PAGE = 100


class DevicePlatform(StrEnum):
    """Where the app runs; every platform is reached through the push provider."""

    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class NotificationKind(StrEnum):
    """What a notification tells, and to whom."""

    PATIENT_NEW_MESSAGE = "patient_new_message"  # e-mail to the patient's contact address
    PUSH_NEW_MESSAGE = "push_new_message"  # push to one of the patient's devices
    READ_RECEIPT = "read_receipt"  # RFC 8098 MDN to the original sender
    NON_DELIVERY = "non_delivery"  # RFC 3464 DSN to the sender
    PHARMACY_ALERT = "pharmacy_alert"  # e-mail to a pharmacy's alert address


class NotificationState(StrEnum):
    """Where a notification stands; only ``queued`` and ``retrying`` change again."""

    QUEUED = "queued"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"  # failed permanently: the relay or provider refused it for good
    NOT_NOTIFIABLE = "not_notifiable"  # no address to send it to (no contact e-mail, ...)


class AppNotificationOut(BaseModel):
    """One entry of the app's notification centre; never any medical content."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Identifier of the entry.", examples=["ntf-3f2a9c"])
    title: str = Field(description="Title shown.", examples=["Nouveau message"])
    body: str = Field(
        description="Text shown.",
        examples=["Vous avez reçu un nouveau message dans votre messagerie Mon espace santé."],
    )
    message_id: str = Field(description="The message it announces.", examples=["msg-01HZX3K9"])
    created_at: datetime = Field(description="When it was created (UTC).")
    seen_at: datetime | None = Field(description="When the patient saw it; null if unseen.")


class AppNotificationPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[AppNotificationOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last.")
    unseen: int = Field(ge=0, description="How many entries the patient has not seen, in all.")


class DeviceIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: DevicePlatform = Field(description="Where the app runs.", examples=["android"])
    token: str = Field(
        min_length=8,
        max_length=4096,
        pattern=r"^[\x21-\x7e]+$",
        description="Registration token the push provider gave the app.",
        examples=["fcm-registration-token-0123456789"],
    )


class DeviceOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Identifier of the registration.", examples=["dev-9c1e2b"])
    platform: DevicePlatform = Field(description="Where the app runs.", examples=["android"])
    created_at: datetime = Field(description="When it was registered (UTC).")


class NotificationRecord(BaseModel):
    """A notification as operations see it: what, to whom, its state and attempts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Identifier of the notification.", examples=["ntf-3f2a9c"])
    kind: NotificationKind = Field(description="What it tells.")
    channel: str = Field(description="email or push.", examples=["email"])
    target: str = Field(
        description="Who it is for: an INS, an MSSanté address or a device id.",
        examples=["279035121518989"],
    )
    recipient: str | None = Field(
        description="Where it went or goes (e-mail address, device); null until resolved.",
        examples=["marie.dupont@example.org"],
    )
    state: NotificationState = Field(description="Where it stands.")
    attempts: int = Field(ge=0, description="Sending attempts so far.")
    last_error: str | None = Field(description="The last failure, if any.")
    trigger_event_id: str = Field(description="The event that caused it.")
    created_at: datetime = Field(description="When it was queued (UTC).")
    sent_at: datetime | None = Field(description="When the relay or provider accepted it.")


class NotificationRecordPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[NotificationRecord] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last.")
