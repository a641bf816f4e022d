"""What a patient or a mailbox sees of its conversations."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import datetime

import orjson

from mes_contracts.addresses import AddressError, PatientAddress
from mes_platform.errors import InvalidCursor, NotFound, Unprocessable

from ..domain.model import Conversation, ConversationState, actor_address
from .patients import conversation_not_found
from .ports import ConversationReader, DependencyUnavailable, PageCursor, PatientResolver

__all__ = ["ConversationPage", "ConversationQueries", "decode_cursor", "encode_cursor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversationPage:
    items: list[Conversation]
    next_cursor: str | None


def encode_cursor(c: Conversation) -> str:
    raw = orjson.dumps({"t": c.last_activity_at.isoformat(), "id": c.id})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageCursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        at = datetime.fromisoformat(data["t"])
        if at.tzinfo is None or not isinstance(data["id"], str):
            raise ValueError("naive time or bad id")
        return PageCursor(last_activity_at=at, id=data["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor() from exc


class ConversationQueries:
    def __init__(self, reader: ConversationReader, resolver: PatientResolver) -> None:
        self.reader = reader
        self.resolver = resolver

    async def patient_may_write(self, ins: str) -> bool:
        """Whether the patient's profile lets them write at all: a closed or opposed profile
        (or none) is refused every reply, so none of their conversations may show a reply as
        allowed. A deliverable answer is cached (dropped on any change of the profile), so
        this costs a call to identity only for the others. Identity unreachable: the
        conversation's own state decides what is shown, and a reply attempt answers 503."""
        try:
            resolution = await self.resolver.resolve(PatientAddress(ins).format())
        except DependencyUnavailable:
            log.info("identity unreachable: reply_allowed from the conversations' state only")
            return True
        return resolution.deliverable

    async def of_patient(
        self, ins: str, state: ConversationState | None, cursor: str | None, limit: int
    ) -> ConversationPage:
        after = decode_cursor(cursor) if cursor else None
        found = await self.reader.for_patient(ins, state, after, limit + 1)
        return _page(found, limit)

    async def of_mailbox(
        self, address: str, state: ConversationState | None, cursor: str | None, limit: int
    ) -> ConversationPage:
        try:
            address = actor_address(address)
        except AddressError as exc:
            raise Unprocessable(
                f"Not a health actor's address: {exc.detail}",
                code="invalid_address",
                reason=exc.reason.value,
            ) from exc
        after = decode_cursor(cursor) if cursor else None
        found = await self.reader.for_correspondent(address, state, after, limit + 1)
        return _page(found, limit)

    async def of_patient_by_id(self, ins: str, conversation_id: str) -> Conversation:
        found = await self.reader.get(conversation_id)
        if found is None or found.patient_ins != ins:
            raise conversation_not_found()
        return found

    async def by_id(self, conversation_id: str) -> Conversation:
        found = await self.reader.get(conversation_id)
        if found is None:
            raise NotFound("No such conversation.", code="conversation_not_found")
        return found

    async def contacts(self, ins: str) -> list[Conversation]:
        """The correspondents the patient has an exchange open with, one entry each, with the
        most recently opened of their open conversations: the health actors who wrote and
        have not ended the exchange, and pharmacies (whose [FIN] closes one conversation,
        not the exchange)."""
        return await self.reader.latest_open_per_correspondent(ins)


def _page(found: list[Conversation], limit: int) -> ConversationPage:
    items = found[:limit]
    more = len(found) > limit
    return ConversationPage(items, encode_cursor(items[-1]) if more and items else None)
