"""The gateway's internal calls carry the services' contract models: what reaches a service is
its route's request model, input that model refuses is refused by the gateway as the service
would have refused it, and an answer off its contract is the service's fault (503), never a
500.

The services are fakes that record what reaches them and answer what each test says."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.internal.conversation import (
    AdmissionOut,
    HealthActorMessageIn,
    PatientStartIn,
)
from mes_contracts.internal.mailbox import AttachmentsResolveIn, AttachmentsResolveOut
from mes_gateway.main import create_app

CLAIRE = "claire.martin@hopital-exemple.mssante.fr"
INS = "279035121518989"
PATIENT = f"{INS}@patient.mssante.fr"
PHARMACY = "pharmacie.centrale@officine.mssante.fr"
REPORT = AttachmentRef(
    id="a-1", filename="cr.pdf", content_type="application/pdf", size=1200, sha256="0" * 64
)
ADMITTED = AdmissionOut(message_id="m-1", conversation_id="c-1", status="accepted")

Handler = Callable[[httpx.Request], httpx.Response]


class Service:
    """One service behind the gateway: the requests it got, and its answer."""

    def __init__(self, answer: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def _resolved(request: httpx.Request) -> httpx.Response:
    asked = AttachmentsResolveIn.model_validate_json(request.content)
    answer = AttachmentsResolveOut(items=[REPORT], total_bytes=REPORT.size)
    assert asked.ids == [REPORT.id]
    return httpx.Response(200, content=answer.model_dump_json())


def _admitted(request: httpx.Request) -> httpx.Response:
    status = 201 if request.url.path.endswith("/conversations") else 202
    return httpx.Response(status, content=ADMITTED.model_dump_json())


@pytest.fixture
def mailbox() -> Service:
    return Service(_resolved)


@pytest.fixture
def conversation() -> Service:
    return Service(_admitted)


@pytest.fixture
async def client(settings, mailbox: Service, conversation: Service) -> AsyncIterator[Any]:
    app = create_app(
        settings,
        transports={
            "conversation": httpx.MockTransport(conversation),
            "mailbox": httpx.MockTransport(mailbox),
        },
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        yield client


async def test_a_message_reaches_the_conversation_service_as_its_request_model(
    client, dev_token, conversation: Service
):
    pro = await dev_token(client, role="professional", mailboxes=[CLAIRE])
    sent = {"from": CLAIRE, "to": PATIENT, "subject": "Suivi", "body": "Bonjour"}
    r = await client.post("/v1/messages", headers=pro, json={**sent, "attachment_ids": ["a-1"]})
    assert (r.status_code, r.json()["message_id"]) == (202, "m-1")
    (request,) = conversation.requests
    assert request.headers["content-type"] == "application/json"
    assert HealthActorMessageIn.model_validate_json(request.content) == HealthActorMessageIn(
        from_=CLAIRE,
        to=PATIENT,
        subject="Suivi",
        body="Bonjour",
        attachments=[REPORT],
        sent_by="professional",
    )


async def test_a_recipient_the_conversation_service_would_refuse_is_refused_here(
    client, dev_token, conversation: Service
):
    """The patient's public request admits blanks as ``to``; the service's model does not."""
    patient = await dev_token(client, role="patient", ins=INS)
    body = {"to": "   ", "subject": "Ordonnance", "body": "Bonjour"}
    r = await client.post("/v1/me/conversations", headers=patient, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["code"], r.json()["errors"][0]["loc"]) == ("validation_error", ["body", "to"])
    assert conversation.requests == []
    # A pharmacy's address goes through, as the service's own model.
    r = await client.post("/v1/me/conversations", headers=patient, json={**body, "to": PHARMACY})
    assert r.status_code == 201, r.text
    assert PatientStartIn.model_validate_json(conversation.requests[0].content).to == PHARMACY


@pytest.mark.parametrize(
    "answer",
    [
        {"items": [{"id": "a-1"}], "total_bytes": 1200},  # references without their sizes
        {"attachments": []},
        [],
    ],
)
async def test_an_answer_off_its_contract_is_the_service_unavailable(
    client, dev_token, mailbox: Service, conversation: Service, answer: Any
):
    mailbox.answer = lambda request: httpx.Response(200, json=answer)
    pro = await dev_token(client, role="professional", mailboxes=[CLAIRE])
    sent = {"from": CLAIRE, "to": PATIENT, "subject": "S", "body": "B", "attachment_ids": ["a-1"]}
    r = await client.post("/v1/messages", headers=pro, json=sent)
    assert (r.status_code, r.json()["code"], r.json()["service"]) == (
        503,
        "service_unavailable",
        "mailbox",
    )
    assert conversation.requests == []  # nothing admitted on an answer not understood
