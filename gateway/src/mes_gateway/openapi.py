"""The public OpenAPI 3.1 document: problem responses, the reusable ``Idempotency-Key``
parameter, and its export to ``gateway/openapi.json``.

``python -m mes_gateway.openapi`` writes the file; ``--check`` fails when it is out of date
(a test runs the same check). The document is built with *development* settings, so it includes
``POST /v1/dev/tokens``, marked there as absent in production.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from mes_platform.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

from .idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_PARAMETER

__all__ = [
    "EXPORT_PATH",
    "Problem",
    "build_openapi",
    "install_openapi",
    "main",
    "problem_example",
    "problem_responses",
    "render",
]

EXPORT_PATH = Path(__file__).resolve().parents[2] / "openapi.json"
_PROBLEM_REF = "#/components/schemas/Problem"


class ProblemIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    reason: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details. ``code`` is stable: match on it, not on ``detail``."""

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


def problem_example(
    status: int, code: str, title: str, detail: str, **extra: Any
) -> dict[str, Any]:
    return {
        "value": {
            "type": PROBLEM_TYPE_BASE + code,
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
            "request_id": "5f1b2c3d4e5f46a7b8c9d0e1f2a3b4c5",
            **extra,
        }
    }


_COMMON_EXAMPLES: dict[int, tuple[str, dict[str, dict[str, Any]]]] = {
    400: (
        "The body could not be read (malformed JSON or multipart)",
        {
            "bad_request": problem_example(
                400, "bad_request", "Bad request", "The body is not valid JSON."
            ),
        },
    ),
    401: (
        "Missing or invalid bearer token",
        {
            "unauthenticated": problem_example(
                401,
                "unauthenticated",
                "Authentication required",
                "Send 'Authorization: Bearer <token>'.",
            ),
            "invalid_token": problem_example(
                401, "invalid_token", "Invalid token", "The token has expired.", reason="expired"
            ),
        },
    ),
    403: (
        "Authenticated, but not allowed",
        {
            "forbidden_role": problem_example(
                403,
                "forbidden_role",
                "Role not allowed",
                "This operation is for the role(s) ops; your token has the role patient.",
                allowed_roles=["ops"],
            ),
        },
    ),
    404: (
        "Not found",
        {
            "not_found": problem_example(404, "not_found", "Not found", "Not Found"),
        },
    ),
    413: (
        "Body too large",
        {
            "payload_too_large": problem_example(
                413,
                "payload_too_large",
                "Payload too large",
                "The request body exceeds the limit of 1048576 bytes.",
            ),
        },
    ),
    415: ("The body's media type, or the file's type, is not accepted", {}),
    422: (
        "The request is not valid",
        {
            "validation_error": problem_example(
                422,
                "validation_error",
                "Invalid request",
                "The request does not match the schema; see 'errors'.",
                errors=[{"loc": ["body", "state"], "msg": "Field required", "type": "missing"}],
            ),
        },
    ),
    503: (
        "A service behind the gateway is unavailable; retry later",
        {
            "service_unavailable": problem_example(
                503,
                "service_unavailable",
                "Service unavailable",
                "The identity service is unavailable; retry later.",
                service="identity",
            ),
        },
    ),
}


def problem_responses(
    *statuses: int,
    examples: dict[int, dict[str, dict[str, Any]]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: problem+json bodies with examples per status.

    ``examples`` adds route-specific examples (built with ``problem_example``)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses) | set(examples or {})):
        description, common = _COMMON_EXAMPLES.get(status, ("Error", {}))
        merged = {**common, **(examples or {}).get(status, {})}
        media: dict[str, Any] = {"schema": {"$ref": _PROBLEM_REF}}
        if merged:
            media["examples"] = merged
        out[status] = {"description": description, "content": {PROBLEM_MEDIA_TYPE: media}}
    return out


_JSON_ONLY = {
    415: {
        "unsupported_media_type": problem_example(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "Send the body as JSON (Content-Type: application/json).",
        )
    }
}


def _problem_components() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "Problem": schema}


def _rewrite_operation(operation: dict[str, Any]) -> None:
    if "requestBody" in operation:
        # Whatever the route, a body may be unreadable (400) or over the size limit (413).
        responses = operation.setdefault("responses", {})
        for status, response in problem_responses(400, 413).items():
            responses.setdefault(str(status), response)
        if "application/json" in operation["requestBody"].get("content", {}):
            # JSON sent under another media type (a form's, text/plain).
            responses.setdefault("415", problem_responses(415, examples=_JSON_ONLY)[415])
        operation["responses"] = dict(sorted(responses.items()))
    params = operation.get("parameters", [])
    for i, param in enumerate(params):
        if param.get("in") == "header" and param.get("name") == IDEMPOTENCY_HEADER:
            params[i] = {"$ref": "#/components/parameters/IdempotencyKey"}
    for code, response in operation.get("responses", {}).items():
        if code[0] not in "45":
            continue
        content = response.setdefault("content", {})
        # FastAPI's default 422 (HTTPValidationError) is not what the gateway sends.
        json_schema = content.get("application/json", {}).get("schema", {})
        if json_schema.get("$ref", "").endswith("/HTTPValidationError"):
            del content["application/json"]
        if not content:
            content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": _PROBLEM_REF}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _rewrite_operation(operation)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(_problem_components())
    components["schemas"] = dict(sorted(schemas.items()))
    components.setdefault("parameters", {})["IdempotencyKey"] = IDEMPOTENCY_PARAMETER
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def render() -> str:
    """The exported document, built with development settings (dev token route included)."""
    from .main import create_app
    from .settings import GatewaySettings

    app = create_app(GatewaySettings(environment="development", log_json=False))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mes_gateway.openapi")
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    parser.add_argument("--output", type=Path, default=EXPORT_PATH)
    args = parser.parse_args(argv)
    document = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != document:
            print(
                f"{args.output} is out of date; run: python -m mes_gateway.openapi", file=sys.stderr
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(document, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
