"""Per-request context carried across HTTP and NATS hops (the request id)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

__all__ = [
    "REQUEST_ID_HEADER",
    "current_request_id",
    "new_request_id",
    "request_id_var",
    "sanitize_request_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: ContextVar[str | None] = ContextVar("mes_request_id", default=None)

# A caller-supplied id lands in every log line: keep it short and printable so it cannot forge
# log records or headers.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sanitize_request_id(value: str | None) -> str:
    if value and _SAFE_ID.match(value):
        return value
    return new_request_id()


def current_request_id() -> str:
    """The id of the request being served, or a fresh one for work started outside a request."""
    value = request_id_var.get()
    if value is None:
        value = new_request_id()
        request_id_var.set(value)
    return value
