"""The pharmacy features through the gateway, with the directory and identity services
in-process (real NATS, SQLite), and in-process stand-ins of the two calls of the mailbox
(copy documents, resolve attachments) and of the conversation's admission."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.ins import ins_key
from mes_contracts.internal.documents import DocumentsAttachIn, DocumentsAttachOut
from mes_dev.testing import NatsServer
from mes_gateway.main import create_app
from mes_gateway.settings import GatewaySettings
from mes_pharmacy_directory.domain.finess import luhn_digit
from mes_pharmacy_directory.main import create_app as create_directory_app
from mes_pharmacy_directory.settings import DirectorySettings
from mes_platform.errors import NotFound
from mes_platform.problems import install_problem_handlers

from .conftest import gateway_settings

ACTIVE = "1850775123456" + ins_key("1850775123456")
INACTIVE = "2920375123457" + ins_key("2920375123457")


def finess(payload: str) -> str:
    return payload + str(luhn_digit(payload))


BASTILLE, DIDEROT, CLOSED = finess("75010001"), finess("75010002"), finess("75010003")
BASTILLE_BAL = "bastille@pharmacie.mssante.fr"
PHARMACIES = [
    {
        "finess": BASTILLE,
        "name": "Pharmacie de la Bastille",
        "address_line": "4 place de la Bastille",
        "postal_code": "75011",
        "city": "PARIS",
        "lat": 48.8532,
        "lon": 2.3691,
    },
    {
        "finess": DIDEROT,
        "name": "Pharmacie Diderot",
        "postal_code": "75012",
        "city": "PARIS",
        "lat": 48.8448,
        "lon": 2.3735,
    },
    {"finess": CLOSED, "name": "Pharmacie Fermée", "postal_code": "75012", "city": "PARIS"},
]
PRESCRIPTION = b"%PDF-1.4 ordonnance du Dr Martin"


def mailbox_stand_in() -> FastAPI:
    """The mailbox's document copy (``POST /internal/documents/attach``, per its contract)
    and attachment resolution: one document, d-1, owned by the activated patient."""
    app = FastAPI()
    install_problem_handlers(app)
    owner = f"{ACTIVE}@patient.mssante.fr"
    digest = hashlib.sha256(PRESCRIPTION).hexdigest()

    @app.post("/internal/documents/attach", response_model=DocumentsAttachOut)
    async def attach(body: DocumentsAttachIn) -> DocumentsAttachOut:
        if body.owner != owner or set(body.document_ids) != {"d-1"}:
            raise NotFound("Not one of your documents.", code="document_not_found")
        ref = AttachmentRef(
            id="a-copy-1",
            filename="ordonnance.pdf",
            content_type="application/pdf",
            size=len(PRESCRIPTION),
            sha256=digest,
        )
        return DocumentsAttachOut(attachments=(ref,))

    @app.post("/internal/attachments/resolve")
    async def resolve(body: dict[str, Any]) -> dict[str, Any]:
        return {"items": [], "total_bytes": 0}

    return app


class Conversation:
    """The conversation service's admission of a patient's new conversation, recorded."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/internal/patients/{ins}/conversations", status_code=201)
        async def start(ins: str, body: dict[str, Any]) -> dict[str, Any]:
            self.started.append(body)
            n = len(self.started)
            return {"message_id": f"m-{n}", "conversation_id": f"c-{n}", "status": "accepted"}

        @self.app.get("/internal/patients/{ins}/contacts")
        async def contacts(ins: str) -> dict[str, Any]:
            return {"items": []}


@pytest.fixture
async def directory_app(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[FastAPI]:
    app = create_directory_app(
        DirectorySettings(data_dir=tmp_path, nats_url=nats_server.url, log_json=False)
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def conversation() -> Conversation:
    return Conversation()


@pytest.fixture
def make_gateway(
    identity_app: FastAPI, directory_app: FastAPI, conversation: Conversation
) -> Callable[[GatewaySettings], FastAPI]:
    mailbox = mailbox_stand_in()

    def _make(settings: GatewaySettings) -> FastAPI:
        return create_app(
            settings,
            transports={
                "identity": httpx.ASGITransport(app=identity_app),
                "directory": httpx.ASGITransport(app=directory_app),
                "mailbox": httpx.ASGITransport(app=mailbox),
                "conversation": httpx.ASGITransport(app=conversation.app),
            },
        )

    return _make


@pytest.fixture
async def client(
    make_gateway: Callable[[GatewaySettings], FastAPI], dev_token: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = make_gateway(gateway_settings(pharmacy_requests_per_patient=3))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c,
    ):
        ops = await dev_token(c, role="ops")
        for ins, state in ((ACTIVE, "activated"), (INACTIVE, "created")):
            profile = {
                "state": state,
                "birth_name": "MARTIN",
                "first_names": "Camille",
                "email": "camille@example.org",
            }
            put = await c.put(f"/v1/admin/patients/{ins}", headers=ops, json=profile)
            assert put.status_code in (200, 201), put.text
        batch = await c.post(
            "/v1/admin/pharmacies/batches",
            headers=ops,
            json={"run": "r1", "pharmacies": PHARMACIES},
        )
        assert batch.json()["created"] == 3, batch.text
        await c.post(
            "/v1/admin/pharmacies/batches",
            headers=ops,
            json={"run": "r2", "pharmacies": PHARMACIES[:2]},
        )
        closed = await c.post("/v1/admin/pharmacies/imports/r2/close-absent", headers=ops)
        assert closed.json() == {"closed": 1}
        for f, address in ((BASTILLE, BASTILLE_BAL), (CLOSED, "fermee@pharmacie.mssante.fr")):
            registered = await c.put(
                f"/v1/admin/mailboxes/{address}",
                headers=ops,
                json={
                    "type": "ORG",
                    "display_name": "Pharmacie",
                    "finess": f,
                    "pharmacy": True,
                    "alert_email": "alertes@pharmacie.example",
                },
            )
            assert registered.status_code == 201, registered.text
            assert registered.json()["alert_email"] == "alertes@pharmacie.example"
        yield c


@pytest.fixture
async def patient(client: httpx.AsyncClient, dev_token: Any) -> dict[str, str]:
    return dict(await dev_token(client, role="patient", ins=ACTIVE))


async def test_a_patient_finds_pharmacies_by_words_and_nearest_first(
    client: httpx.AsyncClient, patient: dict[str, str]
) -> None:
    found = await client.get("/v1/me/pharmacies", headers=patient, params={"q": "BASTILLE"})
    assert found.status_code == 200, found.text
    (item,) = found.json()["items"]
    assert item == {
        "finess": BASTILLE,
        "name": "Pharmacie de la Bastille",
        "address_line": "4 place de la Bastille",
        "postal_code": "75011",
        "city": "PARIS",
        "lat": 48.8532,
        "lon": 2.3691,
        "distance_m": None,
        "can_write": True,
    }
    near = await client.get(
        "/v1/me/pharmacies", headers=patient, params={"near": "48.8448,2.3735", "limit": 1}
    )
    page = near.json()
    assert [(p["finess"], p["distance_m"], p["can_write"]) for p in page["items"]] == [
        (DIDEROT, 0, False)
    ]
    rest = await client.get(
        "/v1/me/pharmacies",
        headers=patient,
        params={"near": "48.8448,2.3735", "cursor": page["next_cursor"]},
    )
    assert [p["finess"] for p in rest.json()["items"]] == [BASTILLE]  # the closed one is not
    bad = await client.get("/v1/me/pharmacies", headers=patient, params={"near": "here"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_near")


async def test_the_template_reminds_of_the_paper_prescription(
    client: httpx.AsyncClient, patient: dict[str, str]
) -> None:
    template = (await client.get("/v1/me/pharmacy-message-template", headers=patient)).json()
    assert template["subject"] == "Ordonnance"
    assert "ordonnance" in template["body"]
    assert "ordonnance papier" in template["reminder"]


async def test_a_request_opens_a_conversation_with_the_pharmacy_mailbox_and_the_copies(
    client: httpx.AsyncClient, patient: dict[str, str], conversation: Conversation
) -> None:
    sent = await client.post(
        "/v1/me/pharmacy-requests",
        headers={**patient, "Idempotency-Key": "k-1"},
        json={"pharmacy": BASTILLE, "document_ids": ["d-1"]},
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["mailbox"] == BASTILLE_BAL
    assert body["attachments"][0]["sha256"] == hashlib.sha256(PRESCRIPTION).hexdigest()
    (started,) = conversation.started
    assert started["to"] == BASTILLE_BAL
    assert started["subject"] == "Ordonnance"
    assert started["body"].startswith("Bonjour")
    assert [a["id"] for a in started["attachments"]] == ["a-copy-1"]
    edited = await client.post(
        "/v1/me/pharmacy-requests",
        headers=patient,
        json={"pharmacy": BASTILLE, "document_ids": ["d-1"], "body": "Pour demain"},
    )
    assert edited.status_code == 201
    assert conversation.started[-1]["body"] == "Pour demain"


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        (INACTIVE, {"pharmacy": BASTILLE, "document_ids": ["d-1"]}, 403, "profile_not_activated"),
        (
            ACTIVE,
            {"pharmacy": finess("33010009"), "document_ids": ["d-1"]},
            404,
            "pharmacy_not_found",
        ),
        (ACTIVE, {"pharmacy": CLOSED, "document_ids": ["d-1"]}, 409, "pharmacy_closed"),
        (ACTIVE, {"pharmacy": DIDEROT, "document_ids": ["d-1"]}, 409, "pharmacy_without_mailbox"),
        (ACTIVE, {"pharmacy": BASTILLE, "document_ids": ["d-2"]}, 404, "document_not_found"),
        (ACTIVE, {"pharmacy": BASTILLE, "document_ids": []}, 422, "nothing_attached"),
        (ACTIVE, {"pharmacy": BASTILLE[:8] + "x", "document_ids": ["d-1"]}, 422, "invalid_finess"),
        (
            ACTIVE,
            {"pharmacy": BASTILLE, "document_ids": ["d-1"], "body": "a\x00"},
            422,
            "invalid_body",
        ),
    ],
)
async def test_each_refusal_has_its_own_code(
    client: httpx.AsyncClient,
    dev_token: Any,
    conversation: Conversation,
    who: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    headers = await dev_token(client, role="patient", ins=who)
    refused = await client.post("/v1/me/pharmacy-requests", headers=headers, json=body)
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    assert conversation.started == []


async def test_the_per_patient_limit_holds_across_gateway_processes(
    client: httpx.AsyncClient,
    patient: dict[str, str],
    make_gateway: Callable[[GatewaySettings], FastAPI],
) -> None:
    request = {"pharmacy": BASTILLE, "document_ids": ["d-1"]}
    for _ in range(2):
        assert (
            await client.post("/v1/me/pharmacy-requests", headers=patient, json=request)
        ).status_code == 201
    other = make_gateway(gateway_settings(pharmacy_requests_per_patient=3))
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://g") as c2,
    ):
        assert (
            await c2.post("/v1/me/pharmacy-requests", headers=patient, json=request)
        ).status_code == 201
        refused = await c2.post("/v1/me/pharmacy-requests", headers=patient, json=request)
    assert refused.status_code == 429
    assert refused.json()["code"] == "pharmacy_requests_rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    again = await client.post("/v1/me/pharmacy-requests", headers=patient, json=request)
    assert again.status_code == 429


async def test_contacts_offer_the_pharmacies_of_last_years_dispensations(
    client: httpx.AsyncClient, patient: dict[str, str], dev_token: Any
) -> None:
    ops = await dev_token(client, role="ops")
    today = date.today()
    put = await client.put(
        f"/v1/admin/patients/{ACTIVE}/dispensations",
        headers=ops,
        json={
            "dispensations": [
                {"finess": BASTILLE, "date": str(today - timedelta(days=20))},
                {"finess": DIDEROT, "date": str(today - timedelta(days=2))},  # no mailbox
            ]
        },
    )
    assert put.json() == {"ins": ACTIVE, "count": 2}
    contacts = (await client.get("/v1/me/contacts", headers=patient)).json()
    assert contacts["items"] == [
        {
            "address": BASTILLE_BAL,
            "kind": "pharmacy",
            "display_name": "Pharmacie de la Bastille",
            "conversation_id": None,
            "finess": BASTILLE,
        }
    ]
    refused = await client.put(
        f"/v1/admin/patients/{ACTIVE}/dispensations",
        headers=patient,
        json={"dispensations": []},
    )
    assert refused.status_code == 403


async def test_a_malformed_alert_email_is_refused(
    client: httpx.AsyncClient, dev_token: Any
) -> None:
    ops = await dev_token(client, role="ops")
    refused = await client.put(
        f"/v1/admin/mailboxes/{BASTILLE_BAL}",
        headers=ops,
        json={"type": "ORG", "display_name": "P", "alert_email": "no-at-sign"},
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_alert_email")
