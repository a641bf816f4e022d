"""Every problem ``code`` the public API answers, with its status, title and an example, and
``problems(...)``: the ``responses=`` of a route that lists the codes it can answer.

A route names its codes; the document groups them by status, gives each an example and, per
operation, a ``code`` enum of exactly those codes (see ``openapi.py``). A test reads the code
of every route (and of the services it calls) and fails when a route can answer a code its
document does not list.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mes_platform.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

from .problem_codes import CODES

__all__ = [
    "AUTHENTICATED",
    "CODES",
    "PROBLEM_REF",
    "STATUS_DESCRIPTIONS",
    "Problem",
    "ProblemIssue",
    "problem_example",
    "problem_responses",
    "problems",
]

PROBLEM_REF = "#/components/schemas/Problem"
REQUEST_ID = "5f1b2c3d4e5f46a7b8c9d0e1f2a3b4c5"


STATUS_DESCRIPTIONS = {
    400: "The body could not be read (malformed JSON or multipart)",
    401: "Missing or invalid bearer token",
    403: "Authenticated, but not allowed",
    404: "Not found, or not yours",
    409: "Conflicts with the current state",
    413: "Too large",
    415: "The body's media type, or the file's type, is not accepted",
    422: "The request is not valid",
    429: "Too many requests; retry after the time given in Retry-After",
    503: "A service behind the gateway is unavailable; retry later",
}

# What every route behind a bearer token can answer.
AUTHENTICATED = ("unauthenticated", "invalid_token", "forbidden_role", "service_unavailable")


def problem_example(
    status: int, code: str, title: str, detail: str, **extra: Any
) -> dict[str, Any]:
    """An OpenAPI example object of a problem, as the gateway renders it."""
    return {
        "summary": code,
        "value": {
            "type": PROBLEM_TYPE_BASE + code,
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
            "request_id": REQUEST_ID,
            **extra,
        },
    }


def _example(code: str) -> dict[str, Any]:
    doc = CODES[code]
    return problem_example(doc.status, code, doc.title, doc.detail, **doc.extra)


def problems(
    *codes: str, examples: dict[str, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or a router: one problem+json response per status of
    ``codes``, with an example of each code. ``examples`` adds or replaces examples by name
    (built with ``problem_example``); a code is listed by naming it, or by an example of it."""
    by_status: dict[int, dict[str, dict[str, Any]]] = {}
    for code in codes:
        if code not in CODES:
            raise KeyError(f"unknown problem code {code!r}: describe it in problem_docs.CODES")
        by_status.setdefault(CODES[code].status, {})[code] = _example(code)
    for name, example in (examples or {}).items():
        by_status.setdefault(example["value"]["status"], {})[name] = example
    return {
        status: {
            "description": STATUS_DESCRIPTIONS.get(status, "Refused"),
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": PROBLEM_REF},
                    "examples": dict(sorted(by_status[status].items())),
                }
            },
        }
        for status in sorted(by_status)
    }


class ProblemIssue(BaseModel):
    """What is wrong in the request, and where (``validation_error`` only)."""

    loc: list[str | int]
    msg: str
    type: str
    reason: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details. ``code`` is stable: match on it, not on ``detail``. The other
    members come with the codes that set them."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "invalid_ins"])
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    detail: str | None = Field(default=None, description="Human-readable explanation")
    instance: str | None = Field(default=None, description="The request path")
    request_id: str = Field(description="Echo of X-Request-ID; quote it when reporting an issue")
    errors: list[ProblemIssue] | None = Field(
        default=None, description="validation_error only: what is wrong, where"
    )
    reason: str | None = Field(
        default=None,
        description="invalid_token: expired, bad_signature, malformed, ...; invalid_ins: "
        "wrong_length, bad_characters, wrong_key; invalid_recipient: malformed; "
        "initiation_not_allowed: why the patient may not write there",
    )
    allowed_roles: list[str] | None = Field(
        default=None, description="forbidden_role: the roles this operation is for"
    )
    address: str | None = Field(
        default=None, description="mailbox_not_granted, sender_not_registered: the address"
    )
    mailbox_type: str | None = Field(
        default=None, description="mailbox_type_not_allowed: the sending mailbox's type"
    )
    closed_by: str | None = Field(default=None, description="conversation_closed: who closed it")
    close_reason: str | None = Field(
        default=None, description="conversation_closed: why (fin, idle)"
    )
    detected_type: str | None = Field(
        default=None, description="attachment_type_mismatch: the type the content shows"
    )
    allowed: list[str] | None = Field(
        default=None, description="attachment_type_not_allowed: the types accepted"
    )
    ids: list[str] | None = Field(default=None, description="attachment_unknown: the ids not found")
    size_bytes: int | None = Field(default=None, description="message_too_large: its size")
    max_bytes: int | None = Field(default=None, description="message_too_large: the limit")
    field: str | None = Field(default=None, description="invalid_name: the field refused")
    retry_after_seconds: int | None = Field(
        default=None,
        description="pharmacy_requests_rate_limited: seconds to wait (also in Retry-After)",
    )
    service: str | None = Field(
        default=None, description="service_unavailable: the service that did not answer"
    )


# The problems of a route's bare statuses (``problem_responses(401, 503)``).
_STATUS_CODES: dict[int, tuple[str, ...]] = {
    400: ("bad_request",),
    401: ("unauthenticated", "invalid_token"),
    403: ("forbidden_role",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
    422: ("validation_error",),
    503: ("service_unavailable",),
}


def problem_responses(
    *statuses: int,
    examples: dict[int, dict[str, dict[str, Any]]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` by status: the usual codes of each status, and route-specific examples
    (built with ``problem_example``). ``problems(...)``, which names the codes, says more."""
    codes = [code for status in statuses for code in _STATUS_CODES.get(status, ())]
    extra = {name: ex for by_name in (examples or {}).values() for name, ex in by_name.items()}
    return problems(*codes, examples=extra)
