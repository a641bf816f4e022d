"""``gateway/openapi.json`` as an editor's tools read it: every operation named and described,
every problem code a route can answer listed on its operation, and the linters and generators
an editor runs finding nothing to say."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from mes_gateway import openapi
from mes_gateway.deps import PatientPrincipal, ServicesDep
from mes_gateway.main import create_app
from mes_gateway.settings import GatewaySettings
from mes_platform.errors import Unprocessable

from .problem_reach import public_codes

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "openapi"
DOCUMENT = ROOT / "gateway" / "openapi.json"
PROBLEM = "application/problem+json"
# What the reading of the code finds but the route answers otherwise, and why.
ANSWERED_OTHERWISE = {
    ("downloadAttachment", "message_not_found"): "a mailbox's 404 means 'not in this mailbox': "
    "the gateway asks the next one, then answers attachment_not_found",
    **{
        ("addMyDocument", code): "the mailbox checks a document as it checks an attachment "
        "and answers the refusal under the documents' code (document_empty, "
        "document_type_not_allowed, document_type_mismatch)"
        for code in ("attachment_empty", "attachment_type_not_allowed", "attachment_type_mismatch")
    },
    ("registerMyDevice", "device_not_found"): "registering drops an earlier registration of "
    "the same token through the repository, which removes nothing when there is none; the "
    "reading takes it for the removal route's, which refuses an unknown device",
    ("getHealth", "service_unavailable"): "a service that does not answer is reported in the "
    "HealthReport (503), not as a problem",
}


@pytest.fixture(scope="module")
def app_routes() -> list[APIRoute]:
    app = create_app(GatewaySettings(environment="development", log_json=False))
    return [r for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def documented_codes(operation: dict[str, Any]) -> set[tuple[str, int]]:
    found = set()
    for status, response in operation["responses"].items():
        for example in response.get("content", {}).get(PROBLEM, {}).get("examples", {}).values():
            assert example["value"]["status"] == int(status), example
            found.add((example["value"]["code"], int(status)))
    return found


def test_the_exported_document_is_valid_and_up_to_date(document: dict[str, Any]) -> None:
    validate(document)
    assert openapi.render() == DOCUMENT.read_text(encoding="utf-8"), "run: make openapi"


def test_every_operation_is_named_described_and_answers_named_schemas(
    app_routes: list[APIRoute], document: dict[str, Any]
) -> None:
    """A generated client names its functions after ``operationId`` and its classes after the
    schemas: FastAPI's defaults (``list_messages_v1_mailboxes__address__messages_get``,
    ``Body_upload_v1_attachments_post``) are what nobody ships."""
    for route in app_routes:
        where = f"{sorted(route.methods)} {route.path}"
        assert route.operation_id, f"{where}: give the route an operation_id"
        assert route.operation_id[0].islower() and "_" not in route.operation_id, where
        assert route.summary, f"{where}: give the route a summary"
    ops = operations(document)
    assert len(ops) == len(app_routes), "operationIds are not unique"
    for operation_id, op in ops.items():
        assert op.get("description"), f"{operation_id}: describe the operation"
        for status, response in op["responses"].items():
            assert "X-Request-ID" in response.get("headers", {}), (operation_id, status)
            if status == "401":
                assert "WWW-Authenticate" in response["headers"], operation_id
    schemas = document["components"]["schemas"]
    framework = [n for n in schemas if "_" in n or n.startswith(("Body", "Response"))]
    assert not framework, f"schemas named after the code: {framework}"
    assert document["servers"]


def test_each_domain_notion_is_one_named_enum(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    enums = [tuple(sorted(s["enum"])) for s in schemas.values() if "enum" in s]
    named = {n: s for n, s in schemas.items() if "enum" in s and not n.endswith("ProblemCode")}
    assert len({tuple(sorted(s["enum"])) for s in named.values()}) == len(named)
    for name in (
        "ConversationState",
        "Folder",
        "MessageKind",
        "MessageStatus",
        "NonDeliveryReason",
        "ConversationCloseReason",
        "EndOfExchange",
    ):
        assert name in named, name
    assert enums
    text = json.dumps(document["paths"])
    assert '"enum"' not in text, "an inline enum in a path: name it"
    inline = [n for n, s in schemas.items() if "enum" not in s and '"enum"' in json.dumps(s)]
    assert not inline, f"inline enums in {inline}: name them"
    mss = [
        p
        for p in document["paths"]["/v1/messages"]["post"]["parameters"]
        if p.get("name") == "X-MSS-MES"
    ]
    assert mss[0]["schema"] == {"$ref": "#/components/schemas/EndOfExchange"}


def test_uploads_and_downloads_are_binary_for_the_generators(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for form in ("UploadAttachmentForm", "UploadMyAttachmentForm", "AddMyDocumentForm"):
        part = schemas[form]["properties"]["file"]
        assert part["format"] == "binary" and part["contentMediaType"], form
    for path in ("/v1/attachments/{attachment_id}", "/v1/me/documents/{document_id}"):
        download = document["paths"][path]["get"]["responses"]["200"]
        # A generator reads the first media type it knows: bytes, not text.
        assert next(iter(download["content"])) == "application/octet-stream", path
        for media in download["content"].values():
            assert media["schema"]["format"] == "binary", path
        assert "Content-Disposition" in download["headers"], path


def test_a_refusal_to_retry_later_says_when(document: dict[str, Any]) -> None:
    """A problem 429 or 503 carries ``Retry-After``: a client waits as long as it says."""
    limited = document["paths"]["/v1/me/pharmacy-requests"]["post"]["responses"]["429"]
    assert limited["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert limited["headers"]["Retry-After"]["example"] == 1200
    for operation_id, op in operations(document).items():
        for status in ("429", "503"):
            if PROBLEM in op["responses"].get(status, {}).get("content", {}):
                assert "Retry-After" in op["responses"][status]["headers"], (operation_id, status)


def test_every_code_a_route_can_answer_is_listed_on_its_operation(
    app_routes: list[APIRoute], document: dict[str, Any]
) -> None:
    """Read from the code: the gateway's route, its dependencies, what they call, and the
    internal routes of the services it asks (``problem_reach``). A route that can answer a
    code its operation does not list fails here, with what to add; a listed code no route
    can answer fails too."""
    reachable = public_codes(app_routes)
    ops = operations(document)
    schemas = document["components"]["schemas"]
    missing, stale = {}, {}
    for operation_id, raised in reachable.items():
        op = ops[operation_id]
        listed = documented_codes(op)
        framework = {
            (c, s)
            for c, s in listed
            if c
            in ("validation_error", "bad_request", "payload_too_large", "unsupported_media_type")
        }
        can = {
            (r.code, r.status) for r in raised if (operation_id, r.code) not in ANSWERED_OTHERWISE
        }
        if can - listed:
            missing[operation_id] = sorted(can - listed)
        if listed - can - framework:
            stale[operation_id] = sorted(listed - can - framework)
        if listed:
            enum = schemas[operation_id[0].upper() + operation_id[1:] + "ProblemCode"]["enum"]
            assert sorted({c for c, _ in listed}) == enum, operation_id
    assert not missing, f"codes a route can answer, not in its responses=problems(...): {missing}"
    assert not stale, f"codes listed that no code path answers: {stale}"


def test_examples_say_what_the_gateway_answers(document: dict[str, Any]) -> None:
    for operation_id, op in operations(document).items():
        for response in op["responses"].values():
            examples = response.get("content", {}).get(PROBLEM, {}).get("examples", {})
            for example in examples.values():
                value = example["value"]
                assert value["type"].endswith("/" + value["code"]), operation_id
                if value["code"] == "forbidden_role":
                    roles = value["allowed_roles"]
                    assert roles and f"role(s) {', '.join(roles)};" in value["detail"]
                    if operation_id.startswith(("listMy", "getMy", "openMy", "markMy")):
                        assert roles == ["patient"], operation_id


def _npx(tool: str) -> Path:
    if shutil.which("node") is None:
        pytest.skip(
            "node is not installed: the npm tools (Spectral, openapi-typescript) cannot run"
        )
    binary = TOOLS / "node_modules" / ".bin" / tool
    if not binary.exists():
        pytest.skip(f"{tool} is not installed: run `make openapi-tools` (npm ci in tools/openapi)")
    return binary


def test_spectral_oas_finds_nothing_to_say() -> None:
    spectral = _npx("spectral")
    run = subprocess.run(
        [
            str(spectral),
            "lint",
            "--quiet",
            "--format",
            "json",
            "--ruleset",
            str(TOOLS / ".spectral.yaml"),
            str(DOCUMENT),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    results = json.loads(run.stdout or "[]")
    assert results == [], json.dumps(results, indent=1)[:3000]


def test_openapi_typescript_types_compile_and_keep_the_problem_codes(tmp_path: Path) -> None:
    generator = _npx("openapi-typescript")
    tsc = _npx("tsc")
    types = tmp_path / "mes.d.ts"
    subprocess.run(
        [str(generator), str(DOCUMENT), "-o", str(types)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    usage = tmp_path / "usage.ts"
    usage.write_text(
        'import type { components, operations } from "./mes";\n'
        'type Schemas = components["schemas"];\n'
        'const closed: Schemas["ReplyInConversationProblem"]["code"] = "conversation_closed";\n'
        'const state: Schemas["ConversationState"] = "closed";\n'
        'type Sent = operations["sendMessage"]["responses"][202]["content"]["application/json"];\n'
        'const sent: Sent = { message_id: "m", conversation_id: null, status: "bounced",\n'
        '  bounce_reason: "invalid", report_text: "Le message" };\n'
        "export { closed, state, sent };\n",
        encoding="utf-8",
    )
    wrong = tmp_path / "wrong.ts"
    wrong.write_text(
        'import type { components } from "./mes";\n'
        'export const x: components["schemas"]["ReplyInConversationProblem"]["code"] = "nope";\n',
        encoding="utf-8",
    )
    flags = ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2020"]
    ok = subprocess.run(
        [str(tsc), *flags, str(usage)], capture_output=True, text=True, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stdout
    refused = subprocess.run(
        [str(tsc), *flags, str(wrong)], capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode != 0 and '"nope"' in refused.stdout


def test_the_asyncapi_parses_at_the_latest_version_its_parser_reads() -> None:
    _npx("tsc")  # the npm tools are installed
    run = subprocess.run(
        ["node", str(TOOLS / "parse-asyncapi.mjs"), str(ROOT / "contracts" / "asyncapi.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    parsed = json.loads(run.stdout)
    assert parsed["diagnostics"] == [], parsed  # "asyncapi-latest-version" would be one
    assert parsed["version"] == "3.1.0"


def test_the_reading_of_the_code_finds_what_a_new_route_can_answer() -> None:
    """What keeps a route added later honest: its own refusals, its dependencies' (the role
    check), and those of the service route it calls are all found."""
    router = APIRouter()

    @router.get("/v1/me/example", operation_id="getExample")
    async def example(principal: PatientPrincipal, services: ServicesDep, ins: str) -> None:
        if not ins:
            raise Unprocessable("No INS.", code="ins_required")
        await services.get("identity", f"/internal/patients/{ins}")

    (route,) = [r for r in router.routes if isinstance(r, APIRoute)]
    found = {(r.code, r.status) for r in public_codes([route])["getExample"]}
    assert {
        ("ins_required", 422),  # the route's own
        ("forbidden_role", 403),  # its role dependency
        ("unauthenticated", 401),
        ("patient_not_found", 404),  # the identity service's route
        ("service_unavailable", 503),  # any service call
    } <= found, found
