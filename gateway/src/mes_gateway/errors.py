"""The gateway's own refusals; each renders as problem+json with a stable code."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from mes_platform.errors import DomainError, Forbidden
from mes_platform.problems import problem_response

__all__ = [
    "RETRY_AFTER_SECONDS",
    "AuthenticationFailed",
    "ForbiddenRole",
    "InvalidToken",
    "ServiceUnavailable",
    "Unauthenticated",
    "UpstreamProblem",
    "install_unavailable_handler",
]

# What a 503 asks a client to wait before it tries again (``Retry-After``): a service behind
# the gateway restarting is back within seconds, and nothing accepted before was lost.
RETRY_AFTER_SECONDS = 2


class AuthenticationFailed(DomainError):
    """401s, rendered with ``WWW-Authenticate: Bearer`` (RFC 6750) by the auth handler."""

    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Unauthenticated(AuthenticationFailed):
    pass


class InvalidToken(AuthenticationFailed):
    code = "invalid_token"
    title = "Invalid token"


class ForbiddenRole(Forbidden):
    code = "forbidden_role"
    title = "Role not allowed"


class ServiceUnavailable(DomainError):
    """A service behind the gateway did not answer usefully; the caller may retry later."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"

    def __init__(self, service: str, detail: str | None = None) -> None:
        super().__init__(
            detail or f"The {service} service is unavailable; retry later.", service=service
        )


class UpstreamProblem(DomainError):
    """A service's 4xx problem, passed through to the gateway's caller unchanged."""


def install_unavailable_handler(app: FastAPI) -> None:
    """503s carry ``Retry-After``, so that a client's HTTP library can wait and retry."""

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            **exc.extra,
        )
