"""Internal endpoints are not public: they require the shared internal credential."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request

from .errors import DomainError

__all__ = ["INTERNAL_TOKEN_HEADER", "require_internal_token"]

INTERNAL_TOKEN_HEADER = "X-Internal-Token"


class InternalCredentialRequired(DomainError):
    status = 401
    code = "internal_credential_required"
    title = "Internal credential required"


def require_internal_token(expected: str) -> Callable[[Request], Awaitable[None]]:
    expected_bytes = expected.encode()

    async def dependency(request: Request) -> None:
        supplied = request.headers.get(INTERNAL_TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(supplied, expected_bytes):
            raise InternalCredentialRequired("This endpoint is internal to the platform.")

    return dependency
