"""Queries on a patient's documents, one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.documents import Document
from ..domain.messages import Cursor
from .repository import utc
from .tables import attachments, documents

__all__ = ["SqlDocumentRepository"]


def _document(m: RowMapping) -> Document:
    return Document(
        id=m["id"],
        owner=m["owner"],
        sha256=m["sha256"],
        size=int(m["size"]),
        content_type=m["content_type"],
        filename=m["filename"],
        created_at=utc(m["created_at"]),
    )


@functools.cache
def _page_statement(after: bool) -> Select[Any]:
    d = documents.c
    query = select(documents).where(d.owner == bindparam("owner"))
    if after:
        # A row-value comparison is one index range on both engines.
        query = query.where(
            tuple_(d.created_at, d.id)
            < tuple_(
                bindparam("after_at", type_=d.created_at.type),
                bindparam("after_id", type_=d.id.type),
            )
        )
    return query.order_by(d.created_at.desc(), d.id.desc()).limit(bindparam("limit"))


class SqlDocumentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, d: Document) -> None:
        await self.conn.execute(
            documents.insert().values(
                id=d.id,
                owner=d.owner,
                sha256=d.sha256,
                size=d.size,
                content_type=d.content_type,
                filename=d.filename,
                created_at=d.created_at,
            )
        )

    async def of_owner(
        self, owner: str, ids: Iterable[str], *, lock: bool = False
    ) -> dict[str, Document]:
        """The documents among ``ids`` that belong to ``owner``; the others are not there.
        ``lock``: until the transaction ends, no other deletes them (PostgreSQL; SQLite has one
        writer at a time)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        query = select(documents).where(documents.c.owner == owner, documents.c.id.in_(wanted))
        if lock:
            query = query.with_for_update()
        rows = (await self.conn.execute(query)).mappings()
        return {m["id"]: _document(m) for m in rows}

    async def page(self, owner: str, *, after: Cursor | None, limit: int) -> list[Document]:
        """Newest first; ``after`` continues below the last row of the previous page."""
        params: dict[str, Any] = {"owner": owner, "limit": limit}
        if after is not None:
            params |= {"after_at": after.sent_at, "after_id": after.message_id}
        rows = (await self.conn.execute(_page_statement(after is not None), params)).mappings()
        return [_document(m) for m in rows]

    async def remove(self, owner: str, document_id: str) -> Document | None:
        """Delete the document if it is ``owner``'s; the removed one, or None."""
        found = await self.of_owner(owner, [document_id])
        document = found.get(document_id)
        if document is None:
            return None
        await self.conn.execute(
            delete(documents).where(documents.c.owner == owner, documents.c.id == document_id)
        )
        return document

    async def bytes_in_use(self, sha256: str) -> bool:
        """Whether any document or attachment still names these bytes."""
        in_documents = exists().where(documents.c.sha256 == sha256)
        in_attachments = exists().where(attachments.c.sha256 == sha256)
        row = (await self.conn.execute(select(in_documents | in_attachments))).scalar()
        return bool(row)
