"""All the notifier's queries, on one connection (a unit of work's or a read's)."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from mes_contracts.events.identity import PatientState
from mes_contracts.internal.notifier import NotificationState
from mes_platform.statements import insert_ignoring_duplicates

from ..domain.errors import InvalidCursor
from ..domain.notifications import Notification, PatientContact
from .tables import (
    alert_mailboxes,
    app_notifications,
    devices,
    notifications,
    patient_contacts,
    patient_email_windows,
)

__all__ = ["SqlNotifierRepository", "decode_cursor", "encode_cursor"]

_PENDING = (NotificationState.QUEUED.value, NotificationState.RETRYING.value)

# The sender's statements, built once: they run for every few e-mails.
_FREE = or_(notifications.c.lease_until.is_(None), notifications.c.lease_until < bindparam("now"))
_CLAIM = (
    update(notifications)
    .where(
        notifications.c.id.in_(
            select(notifications.c.id)
            .where(
                notifications.c.state.in_(_PENDING),
                notifications.c.next_attempt_at <= bindparam("now"),
                _FREE,
            )
            .order_by(notifications.c.next_attempt_at)
            .limit(bindparam("claim_limit"))
            .scalar_subquery()
        ),
        _FREE,  # checked again on each row: another sender may have taken it meanwhile
    )
    .values(lease_until=bindparam("lease"))
    .returning(*notifications.c)
)
_SENT = (
    update(notifications)
    .where(notifications.c.id == bindparam("sent_id"))
    .values(
        state=NotificationState.SENT.value,
        lease_until=None,
        attempts=notifications.c.attempts + 1,
        recipient=bindparam("sent_to"),
        sent_at=bindparam("sent_at_"),
    )
)

# The intake's and the planning's lookups, built once: they run for every batch of events.
_CONTACTS = select(patient_contacts).where(
    patient_contacts.c.ins.in_(bindparam("ins", expanding=True))
)
_WINDOWS = select(patient_email_windows).where(
    patient_email_windows.c.ins.in_(bindparam("ins", expanding=True))
)
_MARK_WINDOWS = (
    update(patient_email_windows)
    .where(patient_email_windows.c.ins.in_(bindparam("patients", expanding=True)))
    .values(last_sent_at=bindparam("at"))
)
_MAILBOX = select(alert_mailboxes.c.type, alert_mailboxes.c.alert_email).where(
    alert_mailboxes.c.address == bindparam("address")
)
_DEVICE = select(devices).where(devices.c.id == bindparam("device_id"))
_DEVICES = (
    select(devices)
    .where(devices.c.ins.in_(bindparam("ins", expanding=True)))
    .order_by(devices.c.created_at)
)


@functools.cache
def _add_claimed(dialect_name: str) -> Executable:
    """Queues notifications already claimed, returning the ids written (an id present stays,
    and is not the caller's)."""
    return insert_ignoring_duplicates(dialect_name, notifications).returning(notifications.c.id)


def encode_cursor(at: datetime, key: str) -> str:
    raw = json.dumps([at.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, key = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if not isinstance(key, str) or moment.tzinfo is None:
            raise ValueError(cursor)
        return moment, key
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes: they were written in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def aware_row(row: RowMapping) -> dict[str, Any]:
    return {k: _aware(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _queued_row(n: Notification, lease_until: datetime | None) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind.value,
        "channel": n.channel,
        "target": n.target,
        "recipient": n.recipient,
        "state": NotificationState.QUEUED.value,
        "attempts": 0,
        "last_error": None,
        "data": json.dumps(n.data, ensure_ascii=False),
        "trigger_event_id": n.trigger_event_id,
        "created_at": n.created_at,
        "next_attempt_at": n.not_before or n.created_at,
        "lease_until": lease_until,
        "sent_at": None,
    }


class SqlNotifierRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._dialect = conn.dialect.name

    # --- intake -----------------------------------------------------------------------------

    async def add(self, items: Sequence[Notification]) -> None:
        if not items:
            return
        await self.conn.execute(
            insert_ignoring_duplicates(self._dialect, notifications),
            [_queued_row(n, None) for n in items],
        )

    async def add_claimed(self, items: Sequence[Notification], lease_until: datetime) -> set[str]:
        """Queue ``items`` claimed by this sender until ``lease_until``; the ids written."""
        if not items:
            return set()
        written = await self.conn.execute(
            _add_claimed(self._dialect), [_queued_row(n, lease_until) for n in items]
        )
        return set(written.scalars())

    async def save_contact(self, contact: PatientContact) -> None:
        """Keep the newest profile: an older event arriving late changes nothing."""
        values = {
            "state": contact.state.value,
            "email": contact.email,
            "app_installed": contact.app_installed,
            "changed_at": contact.changed_at,
        }
        done = await self.conn.execute(
            update(patient_contacts)
            .where(
                patient_contacts.c.ins == contact.ins,
                patient_contacts.c.changed_at <= contact.changed_at,
            )
            .values(**values)
        )
        if done.rowcount == 0:
            await self.conn.execute(
                insert_ignoring_duplicates(self._dialect, patient_contacts),
                [{"ins": contact.ins, **values}],
            )

    async def contacts(self, ins: Iterable[str]) -> dict[str, PatientContact]:
        rows = await self.conn.execute(_CONTACTS, {"ins": list(ins)})
        return {
            r.ins: PatientContact(
                ins=r.ins,
                state=PatientState(r.state),
                email=r.email,
                app_installed=bool(r.app_installed),
                changed_at=_aware(r.changed_at) or datetime.now(UTC),
            )
            for r in rows
        }

    async def contact(self, ins: str) -> PatientContact | None:
        row = (
            (await self.conn.execute(select(patient_contacts).where(patient_contacts.c.ins == ins)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return PatientContact(
            ins=row["ins"],
            state=PatientState(row["state"]),
            email=row["email"],
            app_installed=bool(row["app_installed"]),
            changed_at=_aware(row["changed_at"]) or datetime.now(UTC),
        )

    async def save_mailbox(self, address: str, type_: str, alert_email: str | None) -> None:
        values = {"type": type_, "alert_email": alert_email}
        done = await self.conn.execute(
            update(alert_mailboxes).where(alert_mailboxes.c.address == address).values(**values)
        )
        if done.rowcount == 0:
            await self.conn.execute(
                insert_ignoring_duplicates(self._dialect, alert_mailboxes),
                [{"address": address, **values}],
            )

    async def mailbox(self, address: str) -> tuple[str, str | None] | None:
        row = (await self.conn.execute(_MAILBOX, {"address": address})).first()
        return None if row is None else (row[0], row[1])

    async def add_app_notifications(
        self, entries: Sequence[tuple[str, str, str, str, str, datetime]]
    ) -> None:
        if not entries:
            return
        await self.conn.execute(
            insert_ignoring_duplicates(self._dialect, app_notifications),
            [
                {
                    "id": id_,
                    "ins": ins,
                    "message_id": message_id,
                    "title": title,
                    "body": body,
                    "created_at": at,
                    "seen_at": None,
                }
                for id_, ins, message_id, title, body, at in entries
            ],
        )

    # --- sending ----------------------------------------------------------------------------

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` due notifications for this sender until ``lease_until``; a row
        another sender holds is left to it."""
        claimed = await self.conn.execute(
            _CLAIM, {"now": now, "lease": lease_until, "claim_limit": limit}
        )
        rows = [aware_row(r) for r in claimed.mappings()]
        rows.sort(key=lambda r: r["next_attempt_at"])
        return rows

    async def record(
        self,
        ids: Iterable[str],
        state: NotificationState,
        *,
        attempted: bool,
        recipient: str | None = None,
        error: str | None = None,
        sent_at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state.value, "lease_until": None}
        if attempted:
            values["attempts"] = notifications.c.attempts + 1
        if recipient is not None:
            values["recipient"] = recipient
        if error is not None:
            values["last_error"] = error[:2000]
        if sent_at is not None:
            values["sent_at"] = sent_at
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        await self.conn.execute(
            update(notifications).where(notifications.c.id.in_(list(ids))).values(**values)
        )

    async def windows(self, ins: Iterable[str]) -> dict[str, datetime]:
        rows = await self.conn.execute(_WINDOWS, {"ins": list(ins)})
        return {r.ins: _aware(r.last_sent_at) or r.last_sent_at for r in rows}

    async def mark_windows(self, ins: Iterable[str], at: datetime) -> None:
        """The patients' last e-mail is now: a row for each one new, then all set."""
        patients = sorted(set(ins))
        if not patients:
            return
        await self.conn.execute(
            insert_ignoring_duplicates(self._dialect, patient_email_windows),
            [{"ins": p, "last_sent_at": at} for p in patients],
        )
        await self.conn.execute(_MARK_WINDOWS, {"patients": patients, "at": at})

    async def record_sent(self, sent: Sequence[tuple[str, str]], at: datetime) -> None:
        if sent:
            await self.conn.execute(
                _SENT, [{"sent_id": id_, "sent_to": to, "sent_at_": at} for id_, to in sent]
            )

    async def backlog(self) -> int:
        count = await self.conn.execute(
            select(func.count()).where(notifications.c.state.in_(_PENDING))
        )
        return int(count.scalar_one())

    # --- devices ----------------------------------------------------------------------------

    async def devices_of_many(self, ins: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        patients = list(ins)
        found: dict[str, list[dict[str, Any]]] = {}
        if not patients:
            return found
        rows = await self.conn.execute(_DEVICES, {"ins": patients})
        for row in rows.mappings():
            found.setdefault(row["ins"], []).append(aware_row(row))
        return found

    async def device(self, device_id: str) -> dict[str, Any] | None:
        row = (await self.conn.execute(_DEVICE, {"device_id": device_id})).mappings().first()
        return None if row is None else aware_row(row)

    async def device_by_token(self, token: str) -> dict[str, Any] | None:
        row = (
            (await self.conn.execute(select(devices).where(devices.c.token == token)))
            .mappings()
            .first()
        )
        return None if row is None else aware_row(row)

    async def add_device(self, id_: str, ins: str, platform: str, token: str, at: datetime) -> None:
        await self.conn.execute(
            devices.insert().values(id=id_, ins=ins, platform=platform, token=token, created_at=at)
        )

    async def remove_device(self, device_id: str, ins: str | None = None) -> bool:
        condition = devices.c.id == device_id
        if ins is not None:
            condition = and_(condition, devices.c.ins == ins)
        done = await self.conn.execute(delete(devices).where(condition))
        return bool(done.rowcount)

    # --- the notification centre and the record ---------------------------------------------

    async def app_page(
        self, ins: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        query = select(app_notifications).where(app_notifications.c.ins == ins)
        if after is not None:
            at, key = after
            query = query.where(
                or_(
                    app_notifications.c.created_at < at,
                    and_(app_notifications.c.created_at == at, app_notifications.c.id < key),
                )
            )
        query = query.order_by(
            app_notifications.c.created_at.desc(), app_notifications.c.id.desc()
        ).limit(limit)
        return [aware_row(r) for r in (await self.conn.execute(query)).mappings()]

    async def unseen(self, ins: str) -> int:
        count = await self.conn.execute(
            select(func.count()).where(
                app_notifications.c.ins == ins, app_notifications.c.seen_at.is_(None)
            )
        )
        return int(count.scalar_one())

    async def mark_seen(self, ins: str, id_: str, at: datetime) -> dict[str, Any] | None:
        await self.conn.execute(
            update(app_notifications)
            .where(
                app_notifications.c.id == id_,
                app_notifications.c.ins == ins,
                app_notifications.c.seen_at.is_(None),
            )
            .values(seen_at=at)
        )
        row = (
            (
                await self.conn.execute(
                    select(app_notifications).where(
                        app_notifications.c.id == id_, app_notifications.c.ins == ins
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else aware_row(row)

    async def records(
        self,
        recipient: str | None,
        state: NotificationState | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        query = select(notifications)
        if recipient is not None:
            query = query.where(
                or_(notifications.c.recipient == recipient, notifications.c.target == recipient)
            )
        if state is not None:
            query = query.where(notifications.c.state == state.value)
        if after is not None:
            at, key = after
            query = query.where(
                or_(
                    notifications.c.created_at < at,
                    and_(notifications.c.created_at == at, notifications.c.id < key),
                )
            )
        query = query.order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
        return [aware_row(r) for r in (await self.conn.execute(query.limit(limit))).mappings()]
