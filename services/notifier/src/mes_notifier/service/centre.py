"""The patient's notification centre and devices, and the record operations read."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from mes_contracts.internal.notifier import (
    AppNotificationOut,
    AppNotificationPage,
    DeviceIn,
    DeviceOut,
    DevicePlatform,
    NotificationKind,
    NotificationRecord,
    NotificationRecordPage,
    NotificationState,
)

from ..domain.errors import DeviceNotFound, NotificationNotFound
from .ports import ReadSide, UnitOfWorkFactory

__all__ = ["NotificationCentre"]


def _entry(row: dict[str, Any]) -> AppNotificationOut:
    return AppNotificationOut(
        id=row["id"],
        title=row["title"],
        body=row["body"],
        message_id=row["message_id"],
        created_at=row["created_at"],
        seen_at=row["seen_at"],
    )


def _device(row: dict[str, Any]) -> DeviceOut:
    return DeviceOut(
        id=row["id"], platform=DevicePlatform(row["platform"]), created_at=row["created_at"]
    )


class NotificationCentre:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reader: ReadSide,
        encode: Any,
        decode: Any,
    ) -> None:
        self.uow = uow
        self.reader = reader
        self._encode = encode
        self._decode = decode

    async def list_for(self, ins: str, cursor: str | None, limit: int) -> AppNotificationPage:
        """Newest first, and how many the patient has not seen in all."""
        after = self._decode(cursor) if cursor else None
        async with self.reader() as repo:
            rows = await repo.app_page(ins, after, limit + 1)
            unseen = await repo.unseen(ins)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = self._encode(rows[-1]["created_at"], rows[-1]["id"]) if more else None
        return AppNotificationPage(
            items=[_entry(r) for r in rows], next_cursor=next_cursor, unseen=unseen
        )

    async def mark_seen(self, ins: str, entry_id: str) -> AppNotificationOut:
        """Seen once: seeing it again keeps the first time."""
        async with self.uow() as uow:
            row = await uow.repo.mark_seen(ins, entry_id, datetime.now(UTC))
            await uow.commit()
        if row is None:
            raise NotificationNotFound("No such notification for this patient.")
        return _entry(row)

    async def register_device(self, ins: str, device: DeviceIn) -> tuple[DeviceOut, bool]:
        """Register the app's token; the same token again answers the same registration (and
        a token registered by another patient moves to this one: it is one installation).
        Returns the device and whether it is new."""
        async with self.uow() as uow:
            known = await uow.repo.device_by_token(device.token)
            if known is not None and known["ins"] == ins:
                return _device(known), False
            if known is not None:
                await uow.repo.remove_device(known["id"])
            id_ = f"dev-{secrets.token_hex(12)}"
            now = datetime.now(UTC)
            await uow.repo.add_device(id_, ins, device.platform.value, device.token, now)
            await uow.commit()
        return DeviceOut(id=id_, platform=device.platform, created_at=now), True

    async def remove_device(self, ins: str, device_id: str) -> None:
        async with self.uow() as uow:
            removed = await uow.repo.remove_device(device_id, ins)
            await uow.commit()
        if not removed:
            raise DeviceNotFound("No such device for this patient.")

    async def records(
        self,
        recipient: str | None,
        state: NotificationState | None,
        cursor: str | None,
        limit: int,
    ) -> NotificationRecordPage:
        after = self._decode(cursor) if cursor else None
        async with self.reader() as repo:
            rows = await repo.records(recipient, state, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return NotificationRecordPage(
            items=[
                NotificationRecord(
                    id=r["id"],
                    kind=NotificationKind(r["kind"]),
                    channel=r["channel"],
                    target=r["target"],
                    recipient=r["recipient"],
                    state=NotificationState(r["state"]),
                    attempts=r["attempts"],
                    last_error=r["last_error"],
                    trigger_event_id=r["trigger_event_id"],
                    created_at=r["created_at"],
                    sent_at=r["sent_at"],
                )
                for r in rows
            ],
            next_cursor=self._encode(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
        )
