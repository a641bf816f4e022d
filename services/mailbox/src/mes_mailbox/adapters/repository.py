"""Queries of the mailbox service, one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, or_, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_contracts.events.parties import AttachmentRef
from mes_platform.statements import insert_ignoring_duplicates

from ..domain.attachments import StoredAttachment
from ..domain.messages import Cursor, Folder, MessageCopy, MessageKind, SentStatus, mailbox_kind
from .tables import attachments, mailboxes, message_attachments, messages

__all__ = ["SqlAttachmentRepository", "SqlMessageRepository", "insert_ignore"]

_SUMMARY_COLUMNS = [c for c in messages.c if c.name != "body"]


def utc(value: datetime) -> datetime:
    # SQLite keeps no offset: every instant is stored in UTC and read back as naive.
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def insert_ignore(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert, skipping rows whose key exists: a redelivered event then changes nothing. (The
    statement is built once per table: on every delivery's path.)"""
    if not rows:
        return
    await conn.execute(insert_ignoring_duplicates(conn.dialect.name, table), list(rows))


def _row_to_copy(m: RowMapping, body: str) -> MessageCopy:
    return MessageCopy(
        mailbox_address=m["mailbox_address"],
        message_id=m["message_id"],
        folder=Folder(m["folder"]),
        kind=MessageKind(m["kind"]),
        conversation_id=m["conversation_id"],
        subject=m["subject"],
        body=body,
        sender_address=m["sender_address"],
        sender_display_name=m["sender_display_name"],
        recipient_address=m["recipient_address"],
        recipient_display_name=m["recipient_display_name"],
        sent_at=utc(m["sent_at"]),
        delivered_at=utc(m["delivered_at"]),
        read_at=utc(m["read_at"]) if m["read_at"] is not None else None,
        read_receipt_requested=bool(m["read_receipt_requested"]),
        in_reply_to=m["in_reply_to"],
        status=SentStatus(m["status"]) if m["status"] else None,
        bounce_reason=m["bounce_reason"],
    )


def _copy_values(c: MessageCopy) -> dict[str, Any]:
    return {
        "mailbox_address": c.mailbox_address,
        "message_id": c.message_id,
        "folder": c.folder.value,
        "kind": c.kind.value,
        "conversation_id": c.conversation_id,
        "subject": c.subject,
        "body": c.body,
        "sender_address": c.sender_address,
        "sender_display_name": c.sender_display_name,
        "recipient_address": c.recipient_address,
        "recipient_display_name": c.recipient_display_name,
        "sent_at": c.sent_at,
        "delivered_at": c.delivered_at,
        "read_at": c.read_at,
        "read_receipt_requested": c.read_receipt_requested,
        "in_reply_to": c.in_reply_to,
        "status": c.status.value if c.status else None,
        "bounce_reason": c.bounce_reason,
    }


def _with_attachments(query: Select[Any]) -> Select[Any]:
    """The messages ``query`` selects with their attachments, in one round trip: on SQLite
    every statement is a hop to the driver's thread, which costs more than the query."""
    page = query.subquery("page")
    ma, att = message_attachments, attachments
    return (
        select(
            page,
            ma.c.position,
            att.c.id.label("att_id"),
            att.c.filename.label("att_filename"),
            att.c.content_type.label("att_content_type"),
            att.c.size.label("att_size"),
            att.c.sha256.label("att_sha256"),
        )
        .select_from(
            page.outerjoin(
                ma,
                (ma.c.mailbox_address == page.c.mailbox_address)
                & (ma.c.message_id == page.c.message_id),
            ).outerjoin(att, att.c.id == ma.c.attachment_id)
        )
        .order_by(page.c.sent_at.desc(), page.c.message_id.desc(), ma.c.position)
    )


# Statements are built once per shape with bound parameters: building and hashing a fresh
# statement per request cost more CPU than running it.
@functools.cache
def _page_statement(by_folder: bool, by_conversation: bool, after: bool) -> Select[Any]:
    m = messages.c
    query = select(*_SUMMARY_COLUMNS).where(m.mailbox_address == bindparam("mailbox"))
    if by_folder:
        query = query.where(m.folder == bindparam("folder"))
    if by_conversation:
        query = query.where(m.conversation_id == bindparam("conversation_id"))
    if after:
        # A row-value comparison is one index range on both engines.
        query = query.where(
            tuple_(m.sent_at, m.message_id)
            < tuple_(
                bindparam("after_sent_at", type_=m.sent_at.type),
                bindparam("after_id", type_=m.message_id.type),
            )
        )
    query = query.order_by(m.sent_at.desc(), m.message_id.desc()).limit(bindparam("limit"))
    return _with_attachments(query)


@functools.cache
def _message_statement() -> Select[Any]:
    return _with_attachments(
        select(messages).where(
            messages.c.mailbox_address == bindparam("mailbox"),
            messages.c.message_id == bindparam("message_id"),
        )
    )


class SqlMessageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_copies(self, copies: Sequence[MessageCopy], now: datetime) -> None:
        """Store copies (and their mailboxes, created on first delivery); existing ones are
        left untouched, so a copy already read stays read."""
        addresses = sorted({c.mailbox_address for c in copies})
        await insert_ignore(
            self.conn,
            mailboxes,
            [{"address": a, "kind": mailbox_kind(a).value, "created_at": now} for a in addresses],
        )
        await insert_ignore(self.conn, messages, [_copy_values(c) for c in copies])
        await insert_ignore(
            self.conn,
            message_attachments,
            [
                {
                    "mailbox_address": c.mailbox_address,
                    "message_id": c.message_id,
                    "attachment_id": ref.id,
                    "position": i,
                }
                for c in copies
                for i, ref in enumerate(c.attachments)
            ],
        )

    async def get(self, mailbox: str, message_id: str) -> MessageCopy | None:
        found = await self._fetch(
            _message_statement(), {"mailbox": mailbox, "message_id": message_id}, body=True
        )
        return found[0] if found else None

    async def page(
        self,
        mailbox: str,
        *,
        folder: Folder | None,
        conversation_id: str | None,
        after: Cursor | None,
        limit: int,
    ) -> list[MessageCopy]:
        """Newest first; ``after`` continues below the last row of the previous page."""
        params: dict[str, Any] = {"mailbox": mailbox, "limit": limit}
        if folder is not None:
            params["folder"] = folder.value
        if conversation_id is not None:
            params["conversation_id"] = conversation_id
        if after is not None:
            params |= {"after_sent_at": after.sent_at, "after_id": after.message_id}
        statement = _page_statement(
            folder is not None, conversation_id is not None, after is not None
        )
        return await self._fetch(statement, params, body=False)

    async def _fetch(
        self, statement: Select[Any], params: dict[str, Any], *, body: bool
    ) -> list[MessageCopy]:
        rows = (await self.conn.execute(statement, params)).mappings().all()
        copies: list[MessageCopy] = []
        refs: dict[str, list[AttachmentRef]] = {}
        for m in rows:
            if m["message_id"] not in refs:
                refs[m["message_id"]] = []
                copies.append(_row_to_copy(m, m["body"] if body else ""))
            if m["att_id"] is not None:
                refs[m["message_id"]].append(
                    AttachmentRef(
                        id=m["att_id"],
                        filename=m["att_filename"],
                        content_type=m["att_content_type"],
                        size=int(m["att_size"]),
                        sha256=m["att_sha256"],
                    )
                )
        return [
            replace(c, attachments=tuple(refs[c.message_id])) if refs[c.message_id] else c
            for c in copies
        ]

    async def mark_read(self, mailbox: str, message_id: str, at: datetime) -> bool:
        """True only for the read that flipped the flag: concurrent reads make one receipt."""
        result = await self.conn.execute(
            update(messages)
            .where(
                messages.c.mailbox_address == mailbox,
                messages.c.message_id == message_id,
                messages.c.read_at.is_(None),
            )
            .values(read_at=at)
        )
        return bool(result.rowcount)

    async def unread_counts(
        self, mailbox: str, conversation_ids: Sequence[str] | None = None
    ) -> dict[str, int]:
        """Unread inbox messages per conversation (only those of ``conversation_ids`` when
        given); messages outside one count under ""."""
        query = select(messages.c.conversation_id, func.count()).where(
            messages.c.mailbox_address == mailbox,
            messages.c.folder == Folder.INBOX.value,
            messages.c.read_at.is_(None),
        )
        if conversation_ids is not None:
            query = query.where(messages.c.conversation_id.in_(conversation_ids))
        rows = (await self.conn.execute(query.group_by(messages.c.conversation_id))).all()
        return {(conv or ""): int(n) for conv, n in rows}


def _stored_attachment(m: RowMapping) -> StoredAttachment:
    return StoredAttachment(
        id=m["id"],
        sha256=m["sha256"],
        size=int(m["size"]),
        content_type=m["content_type"],
        filename=m["filename"],
        uploaded_by=m["uploaded_by"],
        created_at=utc(m["created_at"]),
    )


class SqlAttachmentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, a: StoredAttachment) -> None:
        await self.conn.execute(
            attachments.insert().values(
                id=a.id,
                sha256=a.sha256,
                size=a.size,
                content_type=a.content_type,
                filename=a.filename,
                uploaded_by=a.uploaded_by,
                created_at=a.created_at,
            )
        )

    async def usable_by(self, mailbox: str, ids: Iterable[str]) -> dict[str, StoredAttachment]:
        """The attachments among ``ids`` that ``mailbox`` uploaded or holds a message with."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        held = (
            select(message_attachments.c.attachment_id)
            .where(
                message_attachments.c.mailbox_address == mailbox,
                message_attachments.c.attachment_id == attachments.c.id,
            )
            .exists()
        )
        rows = (
            await self.conn.execute(
                select(attachments).where(
                    attachments.c.id.in_(wanted),
                    or_(attachments.c.uploaded_by == mailbox, held),
                )
            )
        ).mappings()
        return {m["id"]: _stored_attachment(m) for m in rows}
