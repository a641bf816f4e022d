"""Errors that carry their own HTTP status and stable code, rendered once as problem+json."""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "DomainError", "Forbidden", "InvalidCursor", "NotFound", "Unprocessable"]


class DomainError(Exception):
    """A refusal a caller can act on. ``code`` is stable and documented; ``detail`` is prose."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"
    title = "Unprocessable request"


class InvalidCursor(Unprocessable):
    """A page cursor the service did not issue, or altered: one answer for every listing."""

    code = "invalid_cursor"
    title = "Invalid cursor"

    def __init__(self, detail: str = "The cursor is not one this service issued.") -> None:
        super().__init__(detail)
