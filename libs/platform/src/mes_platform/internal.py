"""Internal endpoints are not public: they require the shared internal credential.

Every service serves its internal routes under ``/internal``; :class:`InternalOnlyMiddleware`
guards that prefix as a whole, so a route added later is guarded without anything to remember,
a path that does not exist answers 401 like one that does (nothing to probe), and the routers
are served from the app's own route list (``runtime.add_routes``) rather than included with a
dependency, which FastAPI enters again on every request.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import DomainError
from .problems import problem_response

__all__ = [
    "INTERNAL_PREFIX",
    "INTERNAL_TOKEN_HEADER",
    "InternalCredentialRequired",
    "InternalOnlyMiddleware",
]

INTERNAL_TOKEN_HEADER = "X-Internal-Token"
INTERNAL_PREFIX = "/internal"
_HEADER = INTERNAL_TOKEN_HEADER.lower().encode("latin-1")


class InternalCredentialRequired(DomainError):
    status = 401
    code = "internal_credential_required"
    title = "Internal credential required"


class InternalOnlyMiddleware:
    """Answers 401 ``internal_credential_required`` to any request under ``/internal`` that
    does not carry the shared internal credential; everything else passes through untouched."""

    def __init__(self, app: ASGIApp, *, token: str, prefix: str = INTERNAL_PREFIX) -> None:
        self.app = app
        self._expected = token.encode()
        self._prefix = prefix

    def _guarded(self, path: str) -> bool:
        prefix = self._prefix
        return path == prefix or path.startswith(prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guarded(scope["path"]):
            supplied = b""
            for name, value in scope["headers"]:
                if name == _HEADER:
                    supplied = value
                    break
            if not hmac.compare_digest(supplied, self._expected):
                refused = InternalCredentialRequired("This endpoint is internal to the platform.")
                response = problem_response(
                    refused.status, refused.code, refused.title, refused.detail
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
