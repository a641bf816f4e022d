"""The gateway's own refusals; each renders as problem+json with a stable code."""

from __future__ import annotations

from mes_platform.errors import DomainError, Forbidden

__all__ = [
    "AuthenticationFailed",
    "ForbiddenRole",
    "InvalidToken",
    "ServiceUnavailable",
    "Unauthenticated",
    "UpstreamProblem",
]


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
