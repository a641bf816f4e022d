"""The public OpenAPI 3.1 document: named schemas, problem responses with a ``code`` enum per
operation, response headers, and its export to ``gateway/openapi.json``.

``python -m mes_gateway.openapi`` writes the file; ``--check`` fails when it is out of date
(a test runs the same check). The document is built with *development* settings, so it includes
``POST /v1/dev/tokens``, marked there as absent in production.

What the framework would name after the Python code is named here in the domain's words, so
that a client generated from the document keeps its names: each route gives its
``operation_id``; a form body is named after its operation (``UploadAttachmentForm``); an
inline enum whose values are those of a named one becomes a reference to it; every problem
answer of an operation refers to ``<Operation>Problem``, whose ``code`` lists exactly the codes
of that operation's examples (``problem_docs``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from mes_platform.problems import PROBLEM_MEDIA_TYPE

from .errors import RETRY_AFTER_SECONDS
from .idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_PARAMETER
from .problem_codes import CODES
from .problem_docs import PROBLEM_REF, Problem, problem_example, problem_responses, problems

__all__ = [
    "CONTACT",
    "EXPORT_PATH",
    "SERVERS",
    "Problem",
    "build_openapi",
    "install_openapi",
    "main",
    "problem_example",
    "problem_responses",
    "problems",
    "render",
]

EXPORT_PATH = Path(__file__).resolve().parents[2] / "openapi.json"
SERVERS = [
    {"url": "https://api.mes-messagerie.example", "description": "Production"},
    {"url": "http://127.0.0.1:8000", "description": "A local stack (`make run`)"},
]
CONTACT = {"name": "MES Messagerie", "url": "https://mes-messagerie.example/support"}
_SCHEMAS = "#/components/schemas/"
_REQUEST_ID_HEADER = {
    "description": "The request's id: the one sent, or one the gateway made; quote it when "
    "reporting an issue (it is also the problem's `request_id`)",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
    "example": RETRY_AFTER_SECONDS,
}
_WWW_AUTHENTICATE = {
    "description": "The bearer challenge (RFC 6750), with the error when a token was sent",
    "schema": {"type": "string"},
    "example": 'Bearer error="invalid_token", error_description="The token has expired."',
}


def _pascal(operation_id: str) -> str:
    return operation_id[:1].upper() + operation_id[1:]


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            yield path, method, operation


def _allowed_roles(route: APIRoute) -> list[str] | None:
    """The roles a route lets through, read from its role dependency's ``allowed`` set."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if dependant.call is not None and inspect.isfunction(dependant.call):
            allowed = inspect.getclosurevars(dependant.call).nonlocals.get("allowed")
            if isinstance(allowed, frozenset):
                return sorted(str(role.value) for role in allowed)
        stack.extend(dependant.dependencies)
    return None


def _framework_problems(operation: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The problems every operation with a body or parameters can answer."""
    codes: list[str] = []
    if operation.get("parameters") or "requestBody" in operation:
        codes.append("validation_error")
    if "requestBody" in operation:
        codes += ["bad_request", "payload_too_large"]
        if "application/json" in operation["requestBody"].get("content", {}):
            codes.append("unsupported_media_type")
    return problems(*codes)


def _merge_problems(operation: dict[str, Any], extra: dict[int | str, dict[str, Any]]) -> None:
    responses = operation.setdefault("responses", {})
    for status, response in extra.items():
        current = responses.get(str(status))
        media = (current or {}).get("content", {}).get(PROBLEM_MEDIA_TYPE)
        if media is None:
            responses[str(status)] = response
            continue
        examples = media.setdefault("examples", {})
        for name, example in response["content"][PROBLEM_MEDIA_TYPE]["examples"].items():
            examples.setdefault(name, example)
        media["examples"] = dict(sorted(examples.items()))
    operation["responses"] = dict(sorted(responses.items()))


def _problem_schemas(
    operation: dict[str, Any], problem: dict[str, Any], roles: list[str] | None
) -> dict[str, Any]:
    """Point the operation's problem answers at ``<Operation>Problem``, whose ``code`` enum
    lists the codes of their examples; returns the two schemas."""
    name = _pascal(operation["operationId"])
    codes: set[str] = set()
    for status, response in operation.get("responses", {}).items():
        if status[0] not in "45":
            continue
        content = response.setdefault("content", {})
        # FastAPI's default 422 (HTTPValidationError) is not what the gateway sends.
        if (
            content.get("application/json", {})
            .get("schema", {})
            .get("$ref", "")
            .endswith("/HTTPValidationError")
        ):
            del content["application/json"]
        if content and PROBLEM_MEDIA_TYPE not in content:
            continue  # a report of its own (``/health``'s 503)
        media = content.setdefault(PROBLEM_MEDIA_TYPE, {})
        media["schema"] = {"$ref": f"{_SCHEMAS}{name}Problem"}
        for example in media.get("examples", {}).values():
            value = example["value"]
            codes.add(value["code"])
            if value["code"] == "forbidden_role" and roles:
                value["allowed_roles"] = roles
                value["detail"] = (
                    f"This operation is for the role(s) {', '.join(roles)}; "
                    f"your token has the role {'ops' if 'ops' not in roles else 'patient'}."
                )
    if not codes:
        return {}
    own = {
        "allOf": [
            {"$ref": PROBLEM_REF},
            {
                "type": "object",
                "properties": {"code": {"$ref": f"{_SCHEMAS}{name}ProblemCode"}},
                "required": ["code"],
            },
        ],
        "title": f"{name}Problem",
        "description": f"A problem answered by `{operation['operationId']}`.",
    }
    return {
        f"{name}Problem": own,
        f"{name}ProblemCode": {
            "type": "string",
            "enum": sorted(codes),
            "title": f"{name}ProblemCode",
            "description": f"The codes `{operation['operationId']}` can answer.",
        },
    }


def _headers(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = _REQUEST_ID_HEADER
        if status == "401":
            headers["WWW-Authenticate"] = _WWW_AUTHENTICATE
        problem = response.get("content", {}).get(PROBLEM_MEDIA_TYPE)
        if status == "503" and problem is not None:
            headers["Retry-After"] = _RETRY_AFTER
        if status == "429" and problem is not None:
            waits = [
                example["value"].get("retry_after_seconds")
                for example in problem.get("examples", {}).values()
            ]
            wait = next((w for w in waits if isinstance(w, int)), RETRY_AFTER_SECONDS)
            headers["Retry-After"] = {**_RETRY_AFTER, "example": wait}
        response["headers"] = dict(sorted(headers.items()))


def _named_enums(node: Any, enums: dict[tuple[str, ...], str]) -> Any:
    """Replace an inline ``enum`` with the reference to the named enum of the same values."""
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list):
            key = tuple(sorted(map(str, values)))
            if key in enums:
                keep = {k: v for k, v in node.items() if k in ("description", "default")}
                return {"$ref": f"{_SCHEMAS}{enums[key]}", **keep}
        return {k: _named_enums(v, enums) for k, v in node.items()}
    if isinstance(node, list):
        return [_named_enums(v, enums) for v in node]
    return node


def _inline_enums(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield node["enum"]
        for value in node.values():
            yield from _inline_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _inline_enums(value)


def _name_inline_enums(schemas: dict[str, Any], enums: dict[tuple[str, ...], str]) -> None:
    """An enum written inline in a model (``Literal[...]``) becomes a schema of its own,
    ``<Model><Property>``, so that every generator gives it that one name."""
    for model, schema in list(schemas.items()):
        if "enum" in schema:
            continue
        for prop, sub in schema.get("properties", {}).items():
            for values in _inline_enums(sub):
                key = tuple(sorted(map(str, values)))
                if key not in enums:
                    name = model + "".join(part.title() for part in prop.split("_"))
                    schemas[name] = {"type": "string", "enum": values, "title": name}
                    enums[key] = name


def _renamed(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMAS) and ref[len(_SCHEMAS) :] in names:
            return {**node, "$ref": _SCHEMAS + names[ref[len(_SCHEMAS) :]]}
        return {k: _renamed(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, names) for v in node]
    return node


def _binary_parts(schema: dict[str, Any]) -> None:
    """A file part declared as 3.1 does it (``contentMediaType``) and as the common
    generators read it (``format: binary``)."""
    for prop in schema.get("properties", {}).values():
        if prop.get("contentMediaType") and prop.get("type") == "string":
            prop["format"] = "binary"


def _problem_components() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=_SCHEMAS + "{model}")
    defs = schema.pop("$defs", {})
    schema["properties"]["code"] = {"$ref": f"{_SCHEMAS}ProblemCode"}
    code_enum = {
        "type": "string",
        "enum": sorted(CODES),
        "title": "ProblemCode",
        "description": "Every code the API answers; each operation lists its own.",
    }
    end_of_exchange = {
        "type": "string",
        "enum": ["FIN"],
        "title": "EndOfExchange",
        "description": "The value of MSSanté's `X-MSS-MES` header that closes a conversation",
    }
    return {
        **defs,
        "Problem": schema,
        "ProblemCode": code_enum,
        "EndOfExchange": end_of_exchange,
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=SERVERS,
        contact=app.contact or CONTACT,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    problem_schemas = _problem_components()
    schemas.update(problem_schemas)
    routes = {
        (route.path, method.lower()): route
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    renames: dict[str, str] = {}
    for path, method, operation in _operations(schema):
        route = routes[(path, method)]
        _merge_problems(operation, _framework_problems(operation))
        params = operation.get("parameters", [])
        for i, param in enumerate(params):
            if param.get("in") == "header" and param.get("name") == IDEMPOTENCY_HEADER:
                params[i] = {"$ref": "#/components/parameters/IdempotencyKey"}
        schemas.update(
            _problem_schemas(operation, problem_schemas["Problem"], _allowed_roles(route))
        )
        _headers(operation)
        for media in operation.get("requestBody", {}).get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            if ref.startswith(_SCHEMAS + "Body_"):
                renames[ref[len(_SCHEMAS) :]] = _pascal(operation["operationId"]) + "Form"
    for old, new in renames.items():
        schemas[new] = {**schemas.pop(old), "title": new}
        _binary_parts(schemas[new])
    enums = {
        tuple(sorted(map(str, s["enum"]))): name
        for name, s in schemas.items()
        if "enum" in s and not name.endswith("ProblemCode")
    }
    _name_inline_enums(schemas, enums)
    document: dict[str, Any] = _renamed(schema, renames)
    document["paths"] = _named_enums(document["paths"], enums)
    components = document["components"]
    components["schemas"] = {
        name: _named_enums(s, {k: v for k, v in enums.items() if v != name})
        for name, s in sorted(components["schemas"].items())
    }
    components.setdefault("parameters", {})["IdempotencyKey"] = IDEMPOTENCY_PARAMETER
    return document


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
