"""RFC 9457 problem+json rendering of every error, with a stable ``code``. Never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from .context import current_request_id
from .errors import DomainError

__all__ = ["PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://mes-messagerie.example/problems/"

_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Invalid request"),
    429: ("too_many_requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body["request_id"] = current_request_id()
    body.update(extra)
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        item = {
            "loc": list(err.get("loc", ())),
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        ctx = err.get("ctx") or {}
        if "reason" in ctx:
            item["reason"] = str(ctx["reason"])
        cleaned.append(item)
    return cleaned[:50]


def _takes_json(request: Request) -> bool:
    """Whether the route called reads a JSON body (not a form, not no body at all)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    body_params = getattr(dependant, "body_params", None) or []
    return bool(body_params) and not any(
        isinstance(getattr(param, "field_info", None), params.Form) for param in body_params
    )


def _is_json(content_type: str | None) -> bool:
    """What FastAPI reads as JSON: no Content-Type, ``application/json`` or ``*/*+json``."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method the path has: the router names only those of the first route matching
    it, while each method of a path is a route of its own."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods)) if methods else None


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, instance=request.url.path, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return problem_response(
                400,
                "bad_request",
                "Bad request",
                "The body is not valid JSON.",
                instance=request.url.path,
            )
        if _takes_json(request) and not _is_json(request.headers.get("content-type")):
            return problem_response(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as JSON (Content-Type: application/json).",
                instance=request.url.path,
            )
        return problem_response(
            422,
            "validation_error",
            "Invalid request",
            "The request does not match the schema; see 'errors'.",
            instance=request.url.path,
            errors=_clean_validation_errors(exc.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _STATUS_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allow = _allowed_methods(request)
            if allow:
                headers["Allow"] = allow
        return problem_response(
            exc.status_code,
            code,
            title,
            detail,
            instance=request.url.path,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        # The route's template, not the path: paths hold INS and addresses.
        log.error("unhandled error", exc_info=exc, extra={"route": route})
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "An unexpected error occurred; quote the request id.",
            instance=request.url.path,
        )
