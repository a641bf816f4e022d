"""``Idempotency-Key``: the deciding service stores the key with its answer in the same
transaction as the change, so a replay returns the first answer and never acts twice."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .errors import DomainError
from .tables import idempotency_keys

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IdempotencyKeyReused",
    "IdempotencyStore",
    "KeyedUnitOfWork",
    "SqlIdempotencyStore",
    "StoredResponse",
    "lookup",
    "remember",
    "request_fingerprint",
    "run_once",
]

log = logging.getLogger(__name__)

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


class KeyedUnitOfWork(Protocol):
    """A unit of work that keeps the keys of the changes it commits."""

    @property
    def idempotency(self) -> IdempotencyStore: ...

    async def commit(self) -> None: ...


U = TypeVar("U", bound=KeyedUnitOfWork)


async def run_once(
    uow_factory: Callable[[], AbstractAsyncContextManager[U]],
    scope: str,
    key: str | None,
    fingerprint: str,
    act: Callable[[U], Awaitable[StoredResponse]],
    *,
    retry_on: type[Exception] | tuple[type[Exception], ...],
    attempts: int,
) -> StoredResponse | None:
    """``act`` in one unit of work, with ``key`` (if any) and ``act``'s answer stored in the
    same commit; a key already stored answers its first answer and changes nothing.

    A transaction that fails with ``retry_on`` (a unique key taken by a concurrent one: the same
    key from another replica, the same rows) runs again on fresh data, up to ``attempts``
    times; then None."""
    for attempt in range(1, attempts + 1):
        try:
            async with uow_factory() as uow:
                if key is not None:
                    stored = await uow.idempotency.lookup(scope, key, fingerprint)
                    if stored is not None:
                        return stored
                answer = await act(uow)
                if key is not None:
                    await uow.idempotency.remember(
                        scope, key, fingerprint, answer.status_code, answer.body
                    )
                await uow.commit()
                return answer
        except retry_on:
            log.info("concurrent write, running again", extra={"scope": scope, "attempt": attempt})
    return None
