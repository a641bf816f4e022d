"""``Idempotency-Key``: read at the gateway, checked, forwarded to the deciding service.

The gateway stores nothing: the service that makes the change stores the key with its answer in
the same transaction (``mes_platform.idempotency``), so a retried POST returns the first answer
and never acts twice. Use it on every POST that creates something::

    @router.post("/v1/things", status_code=201)
    async def create(body: ThingIn, key: IdempotencyKey, services: ServicesDep) -> ...:
        await services.send("conversation", "POST", "/internal/things", body=...,
                            headers=idempotency_headers(key))
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header

from mes_platform.errors import Unprocessable
from mes_platform.idempotency import IDEMPOTENCY_HEADER

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IDEMPOTENCY_PARAMETER",
    "MAX_KEY_LENGTH",
    "IdempotencyKey",
    "KeyHeader",
    "checked_key",
    "idempotency_headers",
    "idempotency_key",
]

MAX_KEY_LENGTH = 200
_DESCRIPTION = (
    "A client-chosen unique key (1 to 200 printable ASCII characters, e.g. a UUID). Sending the "
    "same request again with the same key returns the first answer and creates nothing more; "
    "the same key with a different request is refused (422 `idempotency_key_reused`)."
)

# The reusable OpenAPI parameter (components.parameters.IdempotencyKey); see openapi.py.
IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": _DESCRIPTION,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[\\x20-\\x7E]+$",
    },
    "example": "3f0c1e7a-5b8e-4c1d-9a43-2f7f1f0f9b11",
}


def _printable(value: str) -> bool:
    return all(" " <= c <= "~" for c in value)


def checked_key(key: str | None) -> str | None:
    """``key`` if it is absent or well formed (422 ``invalid_idempotency_key`` otherwise)."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not _printable(key):
        raise Unprocessable(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
        )
    return key


# The header as a route (or a dependency) declares it.
KeyHeader = Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, description=_DESCRIPTION)]


async def idempotency_key(key: KeyHeader = None) -> str | None:
    return checked_key(key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


def idempotency_headers(key: str | None) -> dict[str, str]:
    """Headers that forward the caller's key to the deciding service (none without a key)."""
    return {IDEMPOTENCY_HEADER: key} if key else {}
