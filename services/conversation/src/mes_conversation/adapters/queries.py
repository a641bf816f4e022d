"""Reads on committed data, each on its own read connection (never the writer's)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mes_platform import idempotency
from mes_platform.idempotency import StoredResponse

from ..domain.model import Conversation, ConversationState
from ..service.ports import PageCursor
from .repository import conversation_pages, row_to_conversation
from .tables import conversations

__all__ = ["SqlConversationReader"]

_c = conversations.c


class SqlConversationReader:
    def __init__(self, reading: Callable[[], AbstractAsyncContextManager[AsyncConnection]]) -> None:
        self.reading = reading

    async def _all(self, query: Select[Any]) -> list[Conversation]:
        async with self.reading() as conn:
            return [row_to_conversation(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, conversation_id: str) -> Conversation | None:
        found = await self._all(select(conversations).where(_c.id == conversation_id))
        return found[0] if found else None

    async def for_patient(
        self,
        patient_ins: str,
        state: ConversationState | None,
        after: PageCursor | None,
        limit: int,
    ) -> list[Conversation]:
        query = select(conversations).where(_c.patient_ins == patient_ins)
        return await self._all(conversation_pages(query, state, after, limit))

    async def for_correspondent(
        self, address: str, state: ConversationState | None, after: PageCursor | None, limit: int
    ) -> list[Conversation]:
        query = select(conversations).where(_c.correspondent_address == address)
        return await self._all(conversation_pages(query, state, after, limit))

    async def latest_open_per_correspondent(self, patient_ins: str) -> list[Conversation]:
        """Each correspondent's most recently opened conversation with this patient among
        those still open (a pharmacy's [FIN] closes one of its conversations, not the
        others)."""
        ranked = (
            select(
                conversations,
                func.row_number()
                .over(
                    partition_by=_c.correspondent_address,
                    order_by=(_c.opened_at.desc(), _c.id.desc()),
                )
                .label("rank"),
            )
            .where(_c.patient_ins == patient_ins, _c.state == ConversationState.OPEN.value)
            .subquery()
        )
        query = (
            select(*[ranked.c[col.name] for col in conversations.columns])
            .where(ranked.c.rank == 1)
            .order_by(ranked.c.last_activity_at.desc(), ranked.c.id.desc())
        )
        return await self._all(query)

    async def replayed(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
        async with self.reading() as conn:
            return await idempotency.lookup(conn, scope, key, fingerprint)
