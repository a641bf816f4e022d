"""The events the running services publish on NATS, read off the wire, match
``contracts/asyncapi.json``: each subject is a channel, its headers and its envelope validate
against the document's schemas, and ``X-Request-ID`` is the request that caused it."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest
from jsonschema import Draft202012Validator

from .conftest import Api
from .stack import Stack

pytestmark = pytest.mark.e2e

DOCUMENT = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.json"


def validator(document: dict[str, Any], ref: str) -> Draft202012Validator:
    """A validator of ``ref``, resolving the document's own ``#/components/...`` refs."""
    return Draft202012Validator({**document, "$ref": ref})


async def test_live_events_match_their_asyncapi_schemas(api: Api, stack: Stack) -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    seen: list[Any] = []
    connection = await nats.connect(stack.nats.url)
    try:

        async def keep(message: Any) -> None:
            seen.append(message)

        subscription = await connection.subscribe("mes.>", cb=keep)
        request_id = f"asyncapi-{uuid.uuid4().hex}"
        doctor_address = f"pro.{uuid.uuid4().hex[:10]}@hopital-test.mssante.fr"
        doctor = await asyncio.to_thread(api.mailbox, doctor_address, "PER", "Dr Live")
        patient_address, _ = await asyncio.to_thread(api.patient)
        headers = {**api.as_(doctor), "X-Request-ID": request_id}
        sent = await asyncio.to_thread(
            api.http.post,
            "/v1/messages",
            headers=headers,
            json={"from": doctor_address, "to": patient_address, "subject": "S", "body": "B"},
        )
        assert sent.status_code == 202, sent.text
        wanted = {"mes.conversation.message.accepted.v1"}
        for _ in range(200):
            if wanted <= {m.subject for m in seen if _rid(m) == request_id} and len(seen) > 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the consequences of the send, published by other services
        await subscription.unsubscribe()
    finally:
        await connection.close()

    assert wanted <= {m.subject for m in seen}, sorted({m.subject for m in seen})
    headers_schema = validator(document, "#/components/schemas/EventHeaders")
    checked = set()
    for message in seen:
        if message.subject.startswith("$JS") or message.subject not in document["channels"]:
            assert message.subject.startswith("$JS") or message.subject.startswith("mes._"), (
                f"{message.subject}: an event the AsyncAPI does not document"
            )
            continue
        channel = document["channels"][message.subject]
        (name,) = channel["messages"]
        declared = document["components"]["messages"][name]
        assert declared["headers"] == {"$ref": "#/components/schemas/EventHeaders"}
        headers_schema.validate(dict(message.headers or {}))
        envelope = json.loads(message.data)
        validator(document, declared["payload"]["$ref"]).validate(envelope)
        assert envelope["type"] == message.subject
        assert message.headers["Nats-Msg-Id"] == envelope["id"]
        assert message.headers["X-Request-ID"] == envelope["correlation_id"]
        checked.add(message.subject)
    ours = [m for m in seen if _rid(m) == request_id]
    assert {m.subject for m in ours} >= wanted
    assert len(checked) >= 3, checked


def _rid(message: Any) -> str | None:
    return (message.headers or {}).get("X-Request-ID")
