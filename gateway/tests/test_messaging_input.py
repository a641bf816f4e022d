"""What the messaging routes accept, refuse and pass on: strict booleans, recipients written as
addresses, bodies that are text, ``X-MSS-MES: FIN``, the one spelling of a mailbox, ids that
stay one path segment, and messages of any admissible size in any JSON escaping.

The conversation and mailbox services are fakes that record what reaches them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from mes_dev.testing.nats_server import free_port
from mes_gateway.main import create_app
from mes_gateway.messaging_schemas import (
    MessageSendIn,
    PatientMessageIn,
    PatientNewConversationIn,
)
from mes_gateway.principal import Principal, Role

CLAIRE = "claire.martin@hopital-exemple.mssante.fr"
INS = "279035121518989"
PATIENT = f"{INS}@patient.mssante.fr"
ADMITTED = {"message_id": "m-1", "conversation_id": "c-1", "status": "accepted"}


def _not_found(code: str) -> httpx.Response:
    return httpx.Response(
        404,
        headers={"content-type": "application/problem+json"},
        json={"type": "x", "title": "Not found", "status": 404, "code": code},
    )


@dataclass
class Fakes:
    """The conversation and mailbox services: every request they got, and answers."""

    requests: list[tuple[str, httpx.Request]] = field(default_factory=list)

    def bodies(self, service: str = "conversation") -> list[Any]:
        return [json.loads(r.content) for s, r in self.requests if s == service and r.content]

    def paths(self, service: str) -> list[bytes]:
        return [r.url.raw_path.partition(b"?")[0] for s, r in self.requests if s == service]

    def conversation(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(("conversation", request))
        path = request.url.path
        if request.method == "POST" and path == "/internal/messages":
            return httpx.Response(202, json=ADMITTED)
        if request.method == "POST" and path == f"/internal/patients/{INS}/conversations":
            return httpx.Response(201, json=ADMITTED)
        if path.startswith(f"/internal/patients/{INS}/conversations/c-1"):
            if request.method == "POST":
                return httpx.Response(202, json=ADMITTED)
            return httpx.Response(200, json={})
        return _not_found("conversation_not_found")

    def mailbox(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(("mailbox", request))
        if request.url.path.endswith("/unread-counts"):
            return httpx.Response(200, json={"total": 0, "by_conversation": {}})
        if request.url.path.endswith("/messages"):
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return _not_found("message_not_found")


@pytest.fixture
async def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def client(settings, fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings,
        transports={
            "conversation": httpx.MockTransport(fakes.conversation),
            "mailbox": httpx.MockTransport(fakes.mailbox),
        },
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        yield client


@pytest.fixture
async def pro(client: httpx.AsyncClient, dev_token) -> dict[str, str]:
    return await dev_token(client, role="professional", mailboxes=[CLAIRE], name="Dr Martin")


@pytest.fixture
async def patient(client: httpx.AsyncClient, dev_token) -> dict[str, str]:
    return await dev_token(client, role="patient", ins=INS)


def message(**fields: Any) -> dict[str, Any]:
    return {"from": CLAIRE, "to": PATIENT, "subject": "Suivi", "body": "Bonjour", **fields}


# --- booleans -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fin", "read_receipt"])
@pytest.mark.parametrize("value", ["1", "yes", "true", 1, 0, None, [True]])
async def test_a_boolean_is_json_true_or_false_only(client, pro, fakes, name, value):
    response = await client.post("/v1/messages", headers=pro, json=message(**{name: value}))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["loc"] == ["body", name]
    assert fakes.requests == []  # nothing was closed nor asked


# --- bodies that are not JSON ------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"from":', b"not json", b'{"to": "x",}'])
async def test_a_body_that_is_not_json_is_a_bad_request(client, pro, fakes, raw):
    headers = {**pro, "Content-Type": "application/json"}
    response = await client.post("/v1/messages", headers=headers, content=raw)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert response.headers["content-type"] == "application/problem+json"
    assert fakes.requests == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_json_sent_under_another_media_type_is_unsupported(client, pro, fakes, content_type):
    headers = {**pro, "Content-Type": content_type}
    response = await client.post(
        "/v1/messages", headers=headers, content=json.dumps(message()).encode()
    )
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_media_type"
    assert fakes.requests == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/x+json"])
async def test_json_media_types_are_read(client, pro, fakes, content_type):
    headers = {**pro, "Content-Type": content_type}
    response = await client.post(
        "/v1/messages", headers=headers, content=json.dumps(message()).encode()
    )
    assert response.status_code == 202, response.text


async def test_a_form_route_given_json_asks_for_the_file(client, pro, fakes):
    response = await client.post("/v1/attachments", headers=pro, json={"file": "x"})
    assert (response.status_code, response.json()["code"]) == (422, "file_required")


async def test_true_and_false_pass(client, pro, fakes):
    r = await client.post("/v1/messages", headers=pro, json=message(fin=True, read_receipt=False))
    assert r.status_code == 202, r.text
    (sent,) = fakes.bodies()
    assert sent["fin"] is True and sent["read_receipt"] is False


async def test_a_patients_app_flag_is_strict_too(client, dev_token):
    ops = await dev_token(client, role="ops")
    body = {
        "state": "activated",
        "birth_name": "DUPONT",
        "first_names": "Marie",
        "email": "marie@example.org",
        "app_installed": "yes",
    }
    response = await client.put(f"/v1/admin/patients/{INS}", headers=ops, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "app_installed"]


# --- recipients -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to",
    [
        "<img src=x onerror=alert(1)>\r\nBcc: victim@evil.example\r\n\r\nX@patient.mssante.fr",
        "279035121518989@patient.mssante.fr\r\nBcc: victim@evil.example",
        "2790351 21518989@patient.mssante.fr",
        "279035121518989",
        "279035121518989@",
        "@patient.mssante.fr",
        "a@b@patient.mssante.fr",
        "27903512151898\x009@patient.mssante.fr",
        "<279035121518989@patient.mssante.fr>",
        "",
        "   ",
    ],
)
async def test_a_recipient_not_written_as_an_address_is_refused(client, pro, fakes, to):
    response = await client.post("/v1/messages", headers=pro, json=message(to=to))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_recipient"
    assert "\r" not in response.text and "<img" not in response.text
    assert fakes.requests == []


@pytest.mark.parametrize(
    "to",
    [
        "279035121518988@patient.mssante.fr",  # wrong key
        "12345@patient.mssante.fr",  # wrong length
        "2790351215189AB@patient.mssante.fr",  # bad characters
    ],
)
async def test_a_well_formed_address_with_a_wrong_ins_goes_on_to_bounce(client, pro, fakes, to):
    response = await client.post("/v1/messages", headers=pro, json=message(to=to))
    assert response.status_code == 202, response.text
    assert fakes.bodies()[0]["to"] == to


async def test_the_recipient_is_trimmed_like_the_sender(client, pro, fakes):
    response = await client.post(
        "/v1/messages", headers=pro, json=message(**{"from": f" {CLAIRE} ", "to": f" {PATIENT}\t"})
    )
    assert response.status_code == 202, response.text
    sent = fakes.bodies()[0]
    assert (sent["from"], sent["to"]) == (CLAIRE, PATIENT)


async def test_a_patients_recipient_is_trimmed(client, patient, fakes):
    pharmacy = "pharmacie.marche@officine-exemple.mssante.fr"
    response = await client.post(
        "/v1/me/conversations",
        headers=patient,
        json={"to": f"  {pharmacy} ", "subject": "Ordonnance", "body": "Voici"},
    )
    assert response.status_code == 201, response.text
    assert fakes.bodies()[0]["to"] == pharmacy


async def test_a_patients_messages_answer_what_was_admitted(client, patient, fakes):
    """The services' answer, as the public model: declared fields only, with the route's
    status."""
    public = {**ADMITTED, "bounce_reason": None, "report_text": None}
    reply = await client.post(
        "/v1/me/conversations/c-1/messages", headers=patient, json={"body": "Merci"}
    )
    assert (reply.status_code, reply.json()) == (202, public)
    started = await client.post(
        "/v1/me/conversations",
        headers=patient,
        json={"to": "pharmacie@officine.mssante.fr", "subject": "Ordonnance", "body": "Voici"},
    )
    assert (started.status_code, started.json()) == (201, public)
    assert started.headers["content-type"] == "application/json"


# --- bodies ---------------------------------------------------------------------------------


# C0 but tab and line breaks, DEL, and C1 (as the subject refuses them).
CONTROL = [
    "\x00",
    "a\x00b",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b[31m",
    "\x1f",
    "bad\x7f",
    "NEL \x85",
    "CSI \x9b31m",
]


@pytest.mark.parametrize("text", CONTROL)
async def test_a_body_with_control_characters_is_refused_on_every_route(
    client, pro, patient, fakes, text
):
    routes = [
        ("/v1/messages", pro, message(body=text)),
        ("/v1/me/conversations/c-1/messages", patient, {"body": text}),
        (
            "/v1/me/conversations",
            patient,
            {"to": "pharmacie@officine.mssante.fr", "subject": "x", "body": text},
        ),
    ]
    for path, headers, body in routes:
        response = await client.post(path, headers=headers, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["code"] == "invalid_body"
    assert fakes.requests == []


async def test_tabs_and_line_breaks_are_text(client, pro, fakes):
    body = "Bonjour,\r\n\tvos résultats\nsont normaux.\u2028Fin."
    response = await client.post("/v1/messages", headers=pro, json=message(body=body))
    assert response.status_code == 202, response.text
    assert fakes.bodies()[0]["body"] == body


# --- X-MSS-MES ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["FIN", "fin", "Fin", "  FIN ", "\tfin"])
async def test_the_mssante_fin_header_closes(client, pro, fakes, value):
    response = await client.post(
        "/v1/messages", headers={**pro, "X-MSS-MES": value}, json=message()
    )
    assert response.status_code == 202, response.text
    assert fakes.bodies()[0]["fin"] is True


@pytest.mark.parametrize("value", ["", "END", "FIN FIN", "FIN;", "1", "true", "FINI", "F" * 500])
async def test_another_mssante_header_value_is_refused(client, pro, fakes, value):
    response = await client.post(
        "/v1/messages", headers={**pro, "X-MSS-MES": value}, json=message()
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_mss_mes"
    assert fakes.requests == []


async def test_without_the_header_nothing_closes(client, pro, fakes):
    assert (await client.post("/v1/messages", headers=pro, json=message())).status_code == 202
    assert fakes.bodies()[0]["fin"] is False


# --- the one spelling of a mailbox ----------------------------------------------------------


def test_a_granted_mailbox_is_returned_in_its_one_spelling() -> None:
    principal = Principal(Role.PROFESSIONAL, "dr", mailboxes=frozenset({CLAIRE}))
    assert principal.require_mailbox(" Claire.MARTIN@Hopital-Exemple.mssante.fr ") == CLAIRE


async def test_the_services_get_the_mailbox_in_lower_case(client, pro, fakes):
    upper = CLAIRE.upper()
    r = await client.post(
        "/v1/messages", headers={**pro, "Idempotency-Key": "k-1"}, json=message(**{"from": upper})
    )
    assert r.status_code == 202, r.text
    assert fakes.bodies()[0]["from"] == CLAIRE  # what the key's scope and fingerprint are made of
    listing = await client.get(f"/v1/mailboxes/{upper}/messages", headers=pro)
    assert listing.status_code == 200, listing.text
    assert fakes.paths("mailbox")[-1] == f"/internal/mailboxes/{CLAIRE}/messages".encode()


# --- ids in paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "sent"), [("%2E", b"%2E"), ("%2E%2E", b"%2E%2E")])
async def test_a_dot_id_is_one_segment_for_the_service_and_not_found(
    client, pro, patient, fakes, raw, sent
):
    me = f"/internal/mailboxes/{PATIENT}/messages/".encode()
    cases = [
        ("GET", f"/v1/me/messages/{raw}", patient, b"mailbox", me + sent + b"/open"),
        ("POST", f"/v1/me/messages/{raw}/read", patient, b"mailbox", me + sent + b"/read"),
        (
            "GET",
            f"/v1/me/conversations/{raw}",
            patient,
            b"conversation",
            f"/internal/patients/{INS}/conversations/".encode() + sent,
        ),
        (
            "GET",
            f"/v1/me/conversations/{raw}/messages",
            patient,
            b"conversation",
            f"/internal/patients/{INS}/conversations/".encode() + sent,
        ),
        (
            "GET",
            f"/v1/mailboxes/{CLAIRE}/messages/{raw}",
            pro,
            b"mailbox",
            f"/internal/mailboxes/{CLAIRE}/messages/".encode() + sent + b"/open",
        ),
        (
            "POST",
            f"/v1/mailboxes/{CLAIRE}/messages/{raw}/read",
            pro,
            b"mailbox",
            f"/internal/mailboxes/{CLAIRE}/messages/".encode() + sent + b"/read",
        ),
    ]
    for method, path, headers, service, internal in cases:
        fakes.requests.clear()
        url = httpx.URL("http://g").copy_with(raw_path=path.encode())
        response = await client.request(method, url, headers=headers)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert fakes.paths(service.decode()) == [internal], path


# --- size -----------------------------------------------------------------------------------


def _largest(model: type[BaseModel], **fixed: Any) -> dict[str, Any]:
    """The model's largest admissible instance: every string at its maximum length in
    characters that JSON escapes as a surrogate pair (12 bytes each), every list full."""
    wide = "\U0001f600"
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        schema = model.model_json_schema(by_alias=True)["properties"][key]
        if "maxLength" in schema or any("maxLength" in s for s in schema.get("anyOf", [])):
            limit = schema.get("maxLength") or next(
                s["maxLength"] for s in schema["anyOf"] if "maxLength" in s
            )
            out[key] = wide * limit
        elif schema.get("type") == "array":
            out[key] = [wide * schema["items"]["maxLength"]] * schema["maxItems"]
        else:
            out[key] = True
    return {**out, **fixed}


@pytest.mark.parametrize("model", [MessageSendIn, PatientMessageIn, PatientNewConversationIn])
def test_the_message_size_limit_admits_whatever_the_schema_admits(settings, model) -> None:
    largest = json.dumps(_largest(model), indent=1).encode()  # ASCII-escaped, with some spaces
    assert len(largest) > settings.max_body_bytes  # more than the limit of other routes
    assert len(largest) <= settings.max_message_bytes


async def test_a_long_body_in_ascii_escaped_json_is_admitted(client, pro, fakes):
    body = "é" * 200_000
    raw = json.dumps(message(body=body)).encode()  # Python's default: \u00e9 for each
    assert len(raw) > 1_048_576
    response = await client.post(
        "/v1/messages", headers={**pro, "Content-Type": "application/json"}, content=raw
    )
    assert response.status_code == 202, response.text[:300]
    assert fakes.bodies()[0]["body"] == body
    too_long = json.dumps(message(body=body + "é")).encode()
    response = await client.post(
        "/v1/messages", headers={**pro, "Content-Type": "application/json"}, content=too_long
    )
    assert response.status_code == 422  # the schema's limit, not the size's


async def test_other_routes_keep_the_small_limit(client, dev_token):
    ops = await dev_token(client, role="ops")
    response = await client.put(
        f"/v1/admin/patients/{INS}", headers=ops, content=b"{" + b" " * 1_100_000 + b"}"
    )
    assert response.status_code == 413


# --- where the conversations are read -------------------------------------------------------


async def test_conversation_reads_go_to_their_own_process_and_sends_to_admission(
    settings, fakes, dev_token
):
    def reads(request: httpx.Request) -> httpx.Response:
        answer = fakes.conversation(request)
        fakes.requests[-1] = ("conversation_reads", request)
        return answer

    app = create_app(
        settings.model_copy(update={"conversation_reads_url": f"http://127.0.0.1:{free_port()}"}),
        transports={
            "conversation": httpx.MockTransport(fakes.conversation),
            "conversation_reads": httpx.MockTransport(reads),
            "mailbox": httpx.MockTransport(fakes.mailbox),
        },
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        patient = await dev_token(client, role="patient", ins=INS)
        pro = await dev_token(client, role="professional", mailboxes=[CLAIRE])
        # An empty page asks who owns the conversation: the reads process answers.
        listed = await client.get("/v1/me/conversations/c-1/messages", headers=patient)
        assert listed.status_code == 200
        await client.get("/v1/me/contacts", headers=patient)
        await client.get(f"/v1/mailboxes/{CLAIRE}/conversations", headers=pro)
        reply = await client.post(
            "/v1/me/conversations/c-1/messages", headers=patient, json={"body": "Merci"}
        )
        assert reply.status_code == 202
        assert (await client.post("/v1/messages", headers=pro, json=message())).status_code == 202
    conversation = f"/internal/patients/{INS}/conversations/c-1".encode()
    assert fakes.paths("conversation_reads") == [
        conversation,
        f"/internal/patients/{INS}/contacts".encode(),
        f"/internal/mailboxes/{CLAIRE}/conversations".encode(),
    ]
    assert fakes.paths("conversation") == [conversation + b"/messages", b"/internal/messages"]


async def test_without_a_reads_process_the_conversation_service_serves_the_reads(
    client, patient, fakes
):
    listed = await client.get("/v1/me/conversations/c-1/messages", headers=patient)
    assert listed.status_code == 200
    assert fakes.paths("conversation") == [f"/internal/patients/{INS}/conversations/c-1".encode()]
