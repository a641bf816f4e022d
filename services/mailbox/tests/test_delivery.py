"""Delivery through a real NATS JetStream: events in, copies listed, redelivery harmless."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted
from mes_contracts.events.mailbox import MessageRead
from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT
from mes_mailbox.adapters.tables import messages
from mes_mailbox.main import create_app
from mes_mailbox.settings import MailboxSettings
from mes_platform.tables import parked_events


@pytest.fixture
def service_database_url(database_url):
    return database_url


async def listed(service, address, **params):
    return (await service.listing(address, **params)).json()["items"]


async def test_accepted_and_bounced_events_reach_the_mailboxes(service, kit, publisher):
    await publisher(kit.accepted(message_id="m1", conversation_id="conv-1"))
    await publisher(kit.bounced(message_id="m2"))

    async def delivered():
        return len(await listed(service, kit.DOCTOR, folder="sent")) == 2

    await kit.eventually(delivered)

    (inbox,) = await listed(service, kit.PATIENT, folder="inbox")
    assert (inbox["id"], inbox["conversation_id"], inbox["read"]) == ("m1", "conv-1", False)
    sent = {i["id"]: i for i in await listed(service, kit.DOCTOR, folder="sent")}
    assert sent["m1"]["status"] == "accepted"
    assert (sent["m2"]["status"], sent["m2"]["bounce_reason"]) == ("bounced", "closed")
    (report,) = await listed(service, kit.DOCTOR, folder="inbox")
    assert report["kind"] == "non_delivery" and report["subject"] == NON_DELIVERY_SUBJECT
    assert report["sender"] == {
        "address": "mailer-daemon@patient.mssante.fr",
        "display_name": "Mon espace santé",
    }
    full = (
        await service.client.post(f"/internal/mailboxes/{kit.DOCTOR}/messages/{report['id']}/open")
    ).json()
    assert full["body"] == (
        f"Le message que vous avez envoyé à l'adresse \"{kit.PATIENT}\" n'a pas pu être "
        "distribué, car la messagerie Mon espace santé de votre destinataire est clôturée."
    )
    assert full["in_reply_to"] == "m2"


async def test_redelivery_changes_nothing_and_a_receipt_is_sent_once(service, kit, publisher):
    original = kit.accepted(message_id="m1", receipt=True)
    await publisher(original)
    await kit.eventually(lambda: _has(service, kit.PATIENT, "m1"))
    url = f"/internal/mailboxes/{kit.PATIENT}/messages/m1/read"
    read_at = (await service.client.post(url)).json()["read_at"]

    # The same event again (past the server's de-duplication), then the same message in a
    # new event, then a marker: once the marker is in, the two before it were handled.
    await publisher(original, msg_id="redelivered")
    await publisher(EventEnvelope.wrap(original.parse_payload(), correlation_id="again"))
    await publisher(kit.bounced(message_id="marker"))
    await kit.eventually(lambda: _has(service, kit.DOCTOR, "marker", folder="sent"))

    (item,) = await listed(service, kit.PATIENT)
    assert item["read"] is True and item["read_at"] == read_at
    assert (await service.client.post(url)).json()["read_at"] == read_at
    receipts = [
        i for i in await listed(service, kit.DOCTOR, folder="inbox") if i["kind"] == "read_receipt"
    ]
    assert len(receipts) == 1

    # One MessageRead left through the outbox to JetStream.
    js = publisher.bus.js

    async def one_read_event():
        info = await js.stream_info("MES_MAILBOX")
        return info.state.messages >= 1

    await kit.eventually(one_read_event)
    msg = await js.get_last_msg("MES_MAILBOX", MessageRead.SUBJECT)
    event = EventEnvelope.from_json_bytes(msg.data).payload_as(MessageRead)
    assert (event.message_id, event.mailbox_address, event.original_sender_address) == (
        "m1",
        kit.PATIENT,
        kit.DOCTOR,
    )
    assert event.read_receipt_requested is True
    assert (await js.stream_info("MES_MAILBOX")).state.messages == 1


async def _has(service, address, message_id, **params):
    return any(i["id"] == message_id for i in await listed(service, address, **params))


async def test_a_poison_event_is_parked_without_holding_back_its_batch(
    kit, publisher, nats_server, tmp_path
):
    poison = EventEnvelope(
        type=MessageAccepted.SUBJECT,
        correlation_id="t",
        producer="conversation",
        payload={"message_id": "broken"},
    )
    # Published before the service starts, so that one fetch brings all three.
    await publisher(kit.accepted(message_id="before"))
    await publisher(poison)
    await publisher(kit.accepted(message_id="after"))
    settings = MailboxSettings(
        data_dir=tmp_path, nats_url=nats_server.url, consumer_max_deliver=1, log_json=False
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        db = app.state.runtime.db

        async def parked():
            async with db.reading() as conn:
                rows = (await conn.execute(select(parked_events.c.event_id))).scalars().all()
            return rows == [poison.id]

        await kit.eventually(parked)
        async with db.reading() as conn:
            inbox = select(messages.c.message_id).where(messages.c.folder == "inbox")
            ids = (await conn.execute(inbox)).scalars()
            assert set(ids) == {"before", "after"}


@pytest.mark.parametrize("settings_overrides", [{"delivery": False}])
async def test_an_api_process_without_delivery_leaves_it_to_the_delivery_process(
    service, kit, publisher
):
    """The stack runs the mailbox's API (delivery off) and its delivery as two processes on one
    database: the API stores nothing itself, and lists what the delivery process stored."""
    assert service.app.state.runtime.consumers == []
    await publisher(kit.accepted(message_id="m-split", conversation_id="conv-split"))
    await asyncio.sleep(1.0)
    assert await listed(service, kit.PATIENT, folder="inbox") == []

    worker = create_app(service.settings.model_copy(update={"delivery": True, "port": 0}))
    async with worker.router.lifespan_context(worker):

        async def delivered():
            return [i["id"] for i in await listed(service, kit.PATIENT, folder="inbox")] == [
                "m-split"
            ]

        await kit.eventually(delivered)
