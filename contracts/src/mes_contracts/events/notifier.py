"""Events of the notifier service."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from mes_contracts.events.base import EventPayload, UtcDatetime

__all__ = ["NotificationChannel", "NotificationSent"]


class NotificationChannel(StrEnum):
    """Where a notification went."""

    EMAIL = "email"
    APP = "app"  # the mobile app's notification centre
    PUSH = "push"


class NotificationSent(EventPayload):
    """A notification left the system; it never carries medical content."""

    SUBJECT: ClassVar[str] = "mes.notifier.notification.sent.v1"

    notification_id: str = Field(
        description="Identifier of the notification.", examples=["notif-01HZX3M2"]
    )
    channel: NotificationChannel = Field(description="Channel used.", examples=["email"])
    recipient: str = Field(
        description="E-mail address, device or mailbox notified, per channel.",
        examples=["marie.dupont@example.org"],
    )
    trigger_event_id: str = Field(
        description="Identifier of the event that caused the notification.",
        examples=["0b6c1c9e-3f7e-4b8a-9a57-0d2e8a4f5c31"],
    )
    sent_at: UtcDatetime = Field(
        description="When it was sent (UTC).", examples=["2024-05-02T09:30:02Z"]
    )
