"""The notification centre, devices and the ops record through the public API: the gateway
in-process with the notifier service behind it (real NATS, SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted
from mes_contracts.events.identity import PatientActivated, PatientState
from mes_contracts.events.parties import Party, PartyKind
from mes_dev.testing import NatsServer, free_port
from mes_gateway.main import create_app
from mes_gateway.settings import GatewaySettings
from mes_notifier.main import create_app as create_notifier_app
from mes_notifier.settings import NotifierSettings
from mes_platform.bus import EventBus

INS = "279035121518989"


@pytest.fixture
async def gateway_with_notifier(
    settings: GatewaySettings, tmp_path: Path, nats_server: NatsServer
) -> AsyncIterator[httpx.AsyncClient]:
    notifier = create_notifier_app(
        NotifierSettings(
            data_dir=tmp_path,
            nats_url=nats_server.url,
            smtp_port=free_port(),
            log_json=False,
            log_level="WARNING",
        )
    )
    async with notifier.router.lifespan_context(notifier):
        for consumer in notifier.state.runtime.consumers:
            await asyncio.wait_for(consumer.ready.wait(), 15)
        app = create_app(settings, transports={"notifier": httpx.ASGITransport(app=notifier)})
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            ) as client,
        ):
            yield client


async def _publish(url: str, *payloads) -> None:
    bus = EventBus(url, name="test-publisher")
    bus.start()
    await bus.wait_connected(10)
    await bus.ensure_streams(["MES_IDENTITY", "MES_CONVERSATION"])
    for payload in payloads:
        envelope = EventEnvelope.wrap(payload, correlation_id="test")
        await bus.js.publish(
            envelope.type, envelope.to_json_bytes(), headers={"Nats-Msg-Id": envelope.id}
        )
    await bus.close()


def _profile() -> PatientActivated:
    return PatientActivated(
        ins=INS,
        state=PatientState.ACTIVATED,
        previous_state=PatientState.CREATED,
        birth_name="DUPONT",
        first_names="Marie",
        display_name="Marie Dupont",
        email="marie.dupont@example.org",
        app_installed=True,
    )


def _message(message_id: str) -> MessageAccepted:
    return MessageAccepted(
        message_id=message_id,
        conversation_id="conv-1",
        sender=Party(
            address="dr.martin@hopital-exemple.mssante.fr",
            kind=PartyKind.PROFESSIONAL,
            display_name="Dr Martin",
        ),
        recipient=Party(
            address=f"{INS}@patient.mssante.fr", kind=PartyKind.PATIENT, display_name="Marie"
        ),
        subject="Résultats",
        body="Bonjour",
        sent_at=datetime.now(UTC),
    )


async def test_a_patient_reads_and_marks_the_notification_centre(
    gateway_with_notifier, sign, nats_server
):
    client = gateway_with_notifier
    patient = {"Authorization": f"Bearer {sign(role='patient', ins=INS)}"}
    empty = await client.get("/v1/me/notifications", headers=patient)
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "next_cursor": None, "unseen": 0}

    await _publish(nats_server.url, _profile())
    await asyncio.sleep(0.3)
    await _publish(nats_server.url, _message("msg-1"), _message("msg-2"))
    for _ in range(100):
        page = (await client.get("/v1/me/notifications", headers=patient)).json()
        if page["unseen"] == 2:
            break
        await asyncio.sleep(0.05)
    assert {e["message_id"] for e in page["items"]} == {"msg-1", "msg-2"}
    created = [e["created_at"] for e in page["items"]]
    assert created == sorted(created, reverse=True)  # newest first
    first = page["items"][0]["id"]
    seen = await client.post(f"/v1/me/notifications/{first}/seen", headers=patient)
    assert seen.status_code == 200 and seen.json()["seen_at"] is not None
    assert (await client.get("/v1/me/notifications", headers=patient)).json()["unseen"] == 1

    unknown = await client.post("/v1/me/notifications/ntf-nope/seen", headers=patient)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["code"] == "notification_not_found"
    forged = await client.get("/v1/me/notifications?cursor=abc", headers=patient)
    assert forged.status_code == 422 and forged.json()["code"] == "invalid_cursor"

    ops = {"Authorization": f"Bearer {sign(role='ops')}"}
    records = await client.get(f"/v1/admin/notifications?recipient={INS}", headers=ops)
    assert records.status_code == 200
    assert {r["kind"] for r in records.json()["items"]} == {"patient_new_message"}
    assert (await client.get("/v1/admin/notifications", headers=patient)).status_code == 403
    bad_state = await client.get("/v1/admin/notifications?state=lost", headers=ops)
    assert bad_state.status_code == 422


async def test_a_patient_registers_and_removes_a_device(gateway_with_notifier, sign):
    client = gateway_with_notifier
    patient = {"Authorization": f"Bearer {sign(role='patient', ins=INS)}"}
    body = {"platform": "ios", "token": "apns-bridged-fcm-token-123456"}
    created = await client.post("/v1/me/devices", json=body, headers=patient)
    assert created.status_code == 201
    again = await client.post("/v1/me/devices", json=body, headers=patient)
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    bad = await client.post(
        "/v1/me/devices", json={"platform": "pager", "token": "x"}, headers=patient
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    device = created.json()["id"]
    assert (await client.delete(f"/v1/me/devices/{device}", headers=patient)).status_code == 204
    gone = await client.delete(f"/v1/me/devices/{device}", headers=patient)
    assert gone.status_code == 404 and gone.json()["code"] == "device_not_found"
    ops = {"Authorization": f"Bearer {sign(role='ops')}"}
    assert (await client.post("/v1/me/devices", json=body, headers=ops)).status_code == 403


async def test_the_notifier_unreachable_is_a_503(gateway, sign):
    patient = {"Authorization": f"Bearer {sign(role='patient', ins=INS)}"}
    answer = await gateway.get("/v1/me/notifications", headers=patient)
    assert answer.status_code == 503 and answer.json()["code"] == "service_unavailable"


async def test_a_patient_never_sees_nor_touches_another_patients_notifications_or_devices(
    gateway_with_notifier, sign, nats_server
):
    client = gateway_with_notifier
    mine = {"Authorization": f"Bearer {sign(role='patient', ins=INS)}"}
    other = {"Authorization": f"Bearer {sign(role='patient', ins='185077512345608')}"}
    await _publish(nats_server.url, _profile())
    await asyncio.sleep(0.3)
    await _publish(nats_server.url, _message("msg-private"))
    for _ in range(100):
        page = (await client.get("/v1/me/notifications", headers=mine)).json()
        if page["unseen"] == 1:
            break
        await asyncio.sleep(0.05)
    (notification,) = page["items"]
    device = (
        await client.post(
            "/v1/me/devices",
            json={"platform": "android", "token": "fcm-token-of-the-first-patient-0001"},
            headers=mine,
        )
    ).json()["id"]

    assert (await client.get("/v1/me/notifications", headers=other)).json() == {
        "items": [],
        "next_cursor": None,
        "unseen": 0,
    }
    # Another patient's ids answer exactly as ids that do not exist.
    seen = await client.post(f"/v1/me/notifications/{notification['id']}/seen", headers=other)
    assert seen.status_code == 404 and seen.json()["code"] == "notification_not_found"
    removed = await client.delete(f"/v1/me/devices/{device}", headers=other)
    assert removed.status_code == 404 and removed.json()["code"] == "device_not_found"
    # Still there, still unseen, for its owner.
    assert (await client.get("/v1/me/notifications", headers=mine)).json()["unseen"] == 1
    assert (await client.delete(f"/v1/me/devices/{device}", headers=mine)).status_code == 204
