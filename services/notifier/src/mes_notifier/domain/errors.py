"""Refusals and failures of the notifier, each with its stable code.

``mes_platform.errors`` is plain Python (no web framework), so the domain may raise them.
"""

from __future__ import annotations

from mes_platform.errors import InvalidCursor, NotFound

__all__ = [
    "DeliveryDeferred",
    "DeliveryFailure",
    "DeliveryRefused",
    "DeviceNotFound",
    "InvalidCursor",
    "NotificationNotFound",
    "TokenUnregistered",
]


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    title = "Notification not found"


class DeviceNotFound(NotFound):
    code = "device_not_found"
    title = "Device not found"


class DeliveryFailure(Exception):
    """A relay or push provider did not take a notification."""


class DeliveryDeferred(DeliveryFailure):
    """A failure that may pass (relay down, 4xx reply, provider overloaded): try again later."""


class DeliveryRefused(DeliveryFailure):
    """Refused for good (5xx reply, invalid recipient): recorded as failed permanently."""


class TokenUnregistered(DeliveryRefused):
    """The push provider no longer knows the device's token: the app was removed."""
