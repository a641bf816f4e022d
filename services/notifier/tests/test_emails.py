"""The e-mails the notifier sends, as a real SMTP server receives them and a mail client or a
bounce processor reads them."""

from __future__ import annotations

import email
import re

import pytest
from flufl.bounce import all_failures
from sqlalchemy import select

from mes_contracts.events.parties import PartyKind
from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT, NonDeliveryReason, non_delivery_text
from mes_notifier.adapters.tables import patient_contacts
from mes_platform.bus import EventBus


def _no_medical_content(kit, raw: bytes, message) -> None:
    texts = [raw.decode("ascii", "replace")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
    texts.append(str(message["Subject"]))
    for text in texts:
        for secret in kit.SECRETS:
            assert secret not in text


@pytest.fixture
def service_database_url(database_url):
    """Every test here on SQLite and on PostgreSQL."""
    return database_url


async def _records(service, **params):
    answer = await service.client.get("/internal/notifications", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_a_new_message_sends_the_patient_one_email_without_medical_content(
    service, smtp_sink, publisher, kit
):
    await publisher(kit.profile())
    await kit.eventually(lambda: True)
    event = kit.accepted()
    await publisher(event)
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))
    [mail] = smtp_sink.to(kit.PATIENT_EMAIL)
    message = mail.message
    assert message["To"] == kit.PATIENT_EMAIL
    assert "Mon espace santé" in str(message["From"])
    assert message["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<ntf-[0-9a-f]{36}@messagerie\.mssante\.fr>", message["Message-ID"])
    assert message["Date"] is not None
    assert message["Subject"] == "Vous avez reçu un nouveau message sur Mon espace santé"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "nouveau message" in text and "https://www.monespacesante.fr" in text
    assert 'href="https://www.monespacesante.fr"' in html
    _no_medical_content(kit, mail.content, message)
    # Recorded sent right after the relay's 250: the e-mail may arrive a moment before.
    await kit.eventually(lambda: _records(service, recipient=kit.PATIENT_EMAIL))
    [record] = await _records(service, recipient=kit.PATIENT_EMAIL)
    assert record["state"] == "sent" and record["attempts"] == 1
    assert record["kind"] == "patient_new_message"


async def test_an_event_delivered_twice_sends_one_email(service, smtp_sink, publisher, kit):
    await publisher(kit.profile())
    event = kit.accepted()
    await publisher(event)
    # The same event again, past the server's de-duplication (a new Nats-Msg-Id).
    bus = EventBus(service.settings.nats_url, name="again")
    bus.start()
    await bus.wait_connected(10)
    await bus.js.publish(event.type, event.to_json_bytes(), headers={"Nats-Msg-Id": "again"})
    await bus.close()
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))
    marker = kit.accepted(message_id="marker")
    await publisher(marker)
    await kit.eventually(lambda: len(smtp_sink.to(kit.PATIENT_EMAIL)) >= 2)
    assert len(smtp_sink.to(kit.PATIENT_EMAIL)) == 2


async def test_a_profile_without_email_is_recorded_not_notifiable(
    service, smtp_sink, publisher, kit
):
    await publisher(kit.profile(email_address=None), kit.accepted())

    async def recorded():
        return await _records(service, state="not_notifiable")

    await kit.eventually(recorded)
    [record] = await _records(service, recipient=kit.INS)
    assert record["state"] == "not_notifiable"
    assert "no contact e-mail" in record["last_error"]
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (NonDeliveryReason.NOT_FOUND, "5.1.1"),
        (NonDeliveryReason.CLOSED, "5.2.1"),
        (NonDeliveryReason.INVALID, "5.1.3"),
        (NonDeliveryReason.TOO_LARGE, "5.3.4"),
    ],
)
async def test_a_bounce_sends_the_sender_a_delivery_status_notification(
    service, smtp_sink, publisher, kit, reason, status
):
    await publisher(kit.bounced(reason))
    await kit.eventually(lambda: smtp_sink.to(kit.DOCTOR))
    [mail] = smtp_sink.to(kit.DOCTOR)
    assert mail.mail_from == "<>"  # the null reverse path: a report never bounces back
    message = mail.message
    assert message["Subject"] == NON_DELIVERY_SUBJECT
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    human, status_part, _headers = message.iter_parts()
    assert human.get_content().strip() == non_delivery_text(reason, kit.PATIENT)
    assert status_part.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status_part.get_payload()
    assert per_message["Reporting-MTA"] == "dns; messagerie.mssante.fr"
    assert per_recipient["Final-Recipient"] == f"rfc822; {kit.PATIENT}"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == status
    # A bounce processor (flufl.bounce, as mailing-list managers use) reads a permanent
    # failure of that address.
    temporary, permanent = all_failures(email.message_from_bytes(mail.content))
    assert (temporary, permanent) == (frozenset(), frozenset({kit.PATIENT.encode()}))
    _no_medical_content(kit, mail.content, message)


async def test_a_read_receipt_sends_one_mdn_to_the_sender(service, smtp_sink, publisher, kit):
    await publisher(kit.read("msg-42", receipt=False), kit.read("msg-43"))
    await kit.eventually(lambda: smtp_sink.to(kit.DOCTOR))
    await publisher(kit.bounced(NonDeliveryReason.CLOSED))  # a marker behind them
    await kit.eventually(lambda: len(smtp_sink.to(kit.DOCTOR)) == 2)
    mdns = [m for m in smtp_sink.to(kit.DOCTOR) if "disposition" in m.message["Content-Type"]]
    [mail] = mdns
    message = mail.message
    assert mail.mail_from == "<>"
    assert message.get_param("report-type") == "disposition-notification"
    human, _fields = message.iter_parts()
    assert kit.PATIENT in human.get_content() and "a été lu" in human.get_content()
    raw = mail.content.decode()
    assert f"Final-Recipient: rfc822;{kit.PATIENT}" in raw
    assert "Original-Message-ID: <msg-43@messagerie.mssante.fr>" in raw
    assert "Disposition: manual-action/MDN-sent-manually; displayed" in raw
    assert "msg-42" not in raw
    _no_medical_content(kit, mail.content, message)


async def test_a_message_to_a_pharmacy_alerts_it_at_its_alert_address(
    service, smtp_sink, publisher, kit
):
    await publisher(kit.mailbox())
    await publisher(kit.accepted(recipient=kit.PHARMACY, kind=PartyKind.PHARMACY))
    await kit.eventually(lambda: smtp_sink.to(kit.PHARMACY_ALERTS))
    [mail] = smtp_sink.to(kit.PHARMACY_ALERTS)
    message = mail.message
    assert kit.PHARMACY in message.get_body(("plain",)).get_content()
    assert message["Auto-Submitted"] == "auto-generated"
    _no_medical_content(kit, mail.content, message)


@pytest.mark.parametrize("settings_overrides", [{"sender_poll_seconds": 30.0}])
async def test_a_new_message_is_emailed_at_once_not_at_the_next_poll(
    service, smtp_sink, publisher, kit
):
    """The poll is only the safety net: a new notification goes as its event is handled."""
    engine = service.app.state.runtime.db.engine

    async def profile_known():
        async with engine.connect() as conn:
            found = await conn.execute(
                select(patient_contacts.c.ins).where(patient_contacts.c.ins == kit.INS)
            )
            return found.first() is not None

    await publisher(kit.profile())
    await kit.eventually(profile_known)
    await publisher(kit.accepted())
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL), within=5)
    await kit.eventually(lambda: _records(service, state="sent"), within=5)
