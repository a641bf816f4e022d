"""Conversations and the admission log in SQL (one code path for SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, insert, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts.events.conversation import ConversationCloseReason
from mes_contracts.events.parties import PartyKind

from ..domain.model import Conversation, ConversationState, Correspondent
from ..service.ports import LoggedMessage, PageCursor
from .tables import conversations, messages

__all__ = [
    "SqlConversationRepository",
    "SqlMessageLog",
    "conversation_pages",
    "row_to_conversation",
]

_c = conversations.c


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def row_to_conversation(m: RowMapping) -> Conversation:
    opened_at = _utc(m["opened_at"])
    last_activity_at = _utc(m["last_activity_at"])
    assert opened_at is not None and last_activity_at is not None
    return Conversation(
        id=m["id"],
        patient_ins=m["patient_ins"],
        correspondent=Correspondent(
            m["correspondent_address"],
            PartyKind(m["correspondent_kind"]),
            m["correspondent_display_name"],
        ),
        subject=m["subject"],
        state=ConversationState(m["state"]),
        opened_by=m["opened_by"],
        opened_at=opened_at,
        last_activity_at=last_activity_at,
        closed_by=m["closed_by"],
        closed_at=_utc(m["closed_at"]),
        close_reason=ConversationCloseReason(m["close_reason"]) if m["close_reason"] else None,
        patient_display_name=m["patient_display_name"],
    )


def _values(c: Conversation) -> dict[str, object]:
    return {
        "id": c.id,
        "patient_ins": c.patient_ins,
        "correspondent_address": c.correspondent.address,
        "correspondent_kind": c.correspondent.kind.value,
        "correspondent_display_name": c.correspondent.display_name,
        "subject": c.subject,
        "state": c.state.value,
        "opened_by": c.opened_by,
        "opened_at": c.opened_at,
        "last_activity_at": c.last_activity_at,
        "closed_by": c.closed_by,
        "closed_at": c.closed_at,
        "close_reason": c.close_reason.value if c.close_reason else None,
        "patient_display_name": c.patient_display_name,
    }


def _latest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(_c.last_activity_at.desc(), _c.id.desc())


def conversation_pages(
    query: Select[Any], state: ConversationState | None, after: PageCursor | None, limit: int
) -> Select[Any]:
    """Keyset pagination on (last_activity_at desc, id desc): stable under inserts."""
    if state is not None:
        query = query.where(_c.state == state.value)
    if after is not None:
        query = query.where(
            or_(
                _c.last_activity_at < after.last_activity_at,
                and_(_c.last_activity_at == after.last_activity_at, _c.id < after.id),
            )
        )
    return _latest_first(query).limit(limit)


# The statements on every message's path, built once: SQLAlchemy then only binds parameters
# (building and cache-keying a statement per call cost more than SQLite's own work).
_LATEST_OPEN = _latest_first(
    select(conversations).where(
        _c.patient_ins == bindparam("q_patient_ins"),
        _c.correspondent_address == bindparam("q_correspondent"),
        _c.state == ConversationState.OPEN.value,
    )
).limit(1)
_GET = select(conversations).where(_c.id == bindparam("q_id")).limit(1)
_INSERT = insert(conversations)
_SAVE = update(conversations).where(
    _c.id == bindparam("q_id"), _c.state == ConversationState.OPEN.value
)
_RECORD = insert(messages)


def _pair_lock_key(patient_ins: str, correspondent: str) -> int:
    digest = hashlib.sha256(f"{patient_ins}\x00{correspondent}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlConversationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _one(
        self, query: Select[Any], params: dict[str, Any] | None = None
    ) -> Conversation | None:
        if params is None:
            query = query.limit(1)
        row = (await self.conn.execute(query, params)).mappings().first()
        return row_to_conversation(row) if row else None

    async def get(self, conversation_id: str) -> Conversation | None:
        return await self._one(_GET, {"q_id": conversation_id})

    async def latest_open_with(self, patient_ins: str, correspondent: str) -> Conversation | None:
        return await self._one(
            _LATEST_OPEN, {"q_patient_ins": patient_ins, "q_correspondent": correspondent}
        )

    async def open_between(self, patient_ins: str, correspondent: str) -> list[Conversation]:
        rows = await self.conn.execute(
            select(conversations).where(
                _c.patient_ins == patient_ins,
                _c.correspondent_address == correspondent,
                _c.state == ConversationState.OPEN.value,
            )
        )
        return [row_to_conversation(r) for r in rows.mappings()]

    async def latest_with(self, patient_ins: str, correspondent: str) -> Conversation | None:
        return await self._one(
            select(conversations)
            .where(
                _c.patient_ins == patient_ins,
                _c.correspondent_address == correspondent,
            )
            .order_by(_c.opened_at.desc(), _c.id.desc())
        )

    async def add(self, conversation: Conversation) -> None:
        await self.conn.execute(_INSERT, _values(conversation))

    async def save(self, conversation: Conversation) -> bool:
        values = _values(conversation)
        values["q_id"] = conversation.id
        result = await self.conn.execute(_SAVE, values)
        return bool(result.rowcount == 1)

    async def lock_pair(self, patient_ins: str, correspondent: str) -> None:
        # SQLite writers are already serialised (BEGIN IMMEDIATE); PostgreSQL needs a lock on a
        # row that may not exist yet, hence an advisory lock released at commit.
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": _pair_lock_key(patient_ins, correspondent)},
            )

    async def idle_since(self, cutoff: datetime, limit: int) -> list[Conversation]:
        rows = await self.conn.execute(
            select(conversations)
            .where(_c.state == ConversationState.OPEN.value, _c.last_activity_at < cutoff)
            .order_by(_c.last_activity_at)
            .limit(limit)
        )
        return [row_to_conversation(r) for r in rows.mappings()]

    async def close_if_idle(self, conversation: Conversation, cutoff: datetime) -> bool:
        """Close unless a message arrived since it was read (the WHERE is re-checked)."""
        result = await self.conn.execute(
            update(conversations)
            .where(
                _c.id == conversation.id,
                _c.state == ConversationState.OPEN.value,
                _c.last_activity_at < cutoff,
            )
            .values(**_values(conversation))
        )
        return bool(result.rowcount == 1)


class SqlMessageLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(self, message: LoggedMessage) -> None:
        await self.conn.execute(
            _RECORD,
            {
                "message_id": message.message_id,
                "conversation_id": message.conversation_id,
                "sender_address": message.sender_address,
                "recipient_address": message.recipient_address,
                "subject": message.subject,
                "status": message.status,
                "bounce_reason": message.bounce_reason.value if message.bounce_reason else None,
                "created_at": message.created_at,
            },
        )

    async def conversation_of(self, message_id: str) -> str | None:
        value = await self.conn.scalar(
            select(messages.c.conversation_id).where(messages.c.message_id == message_id)
        )
        return str(value) if value is not None else None
