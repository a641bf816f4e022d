"""``Idempotency-Key``: the deciding service stores the key with its answer in the same
transaction as the change, so a replay returns the first answer and never acts twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .errors import DomainError
from .tables import idempotency_keys

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IdempotencyKeyReused",
    "IdempotencyStore",
    "SqlIdempotencyStore",
    "StoredResponse",
    "lookup",
    "remember",
    "request_fingerprint",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: object


def request_fingerprint(payload: object) -> str:
    return hashlib.sha256(
        orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    ).hexdigest()


async def lookup(
    conn: AsyncConnection, scope: str, key: str, fingerprint: str
) -> StoredResponse | None:
    row = (
        await conn.execute(
            select(
                idempotency_keys.c.request_hash,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
            ).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was already used for a different request.")
    return StoredResponse(row.status_code, orjson.loads(row.response))


async def remember(
    conn: AsyncConnection, scope: str, key: str, fingerprint: str, status_code: int, body: object
) -> None:
    await conn.execute(
        insert(idempotency_keys).values(
            scope=scope,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response=orjson.dumps(body, default=str),
            created_at=datetime.now(UTC),
        )
    )


class IdempotencyStore(Protocol):
    """Where a unit of work keeps the keys of the changes it makes."""

    async def lookup(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None: ...

    async def remember(
        self, scope: str, key: str, fingerprint: str, status_code: int, body: object
    ) -> None: ...


class SqlIdempotencyStore:
    """Keys are stored in the change's own transaction, so a replay never acts twice."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lookup(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
        return await lookup(self.conn, scope, key, fingerprint)

    async def remember(
        self, scope: str, key: str, fingerprint: str, status_code: int, body: object
    ) -> None:
        await remember(self.conn, scope, key, fingerprint, status_code, body)
