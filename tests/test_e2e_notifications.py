"""Notifications with every service running: what a real SMTP server receives when a
professional writes to a patient, when the patient reads with a receipt requested, when a
message cannot be delivered, and when a patient writes to a pharmacy."""

from __future__ import annotations

import email
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT

from .conftest import Api, eventually
from .stack import Stack

pytestmark = pytest.mark.e2e

SUBJECT = "Bilan oncologique confidentiel"
BODY = "Les marqueurs tumoraux sont en hausse."


class Sink:
    """The relay the stack's notifier sends to: a real SMTP server keeping every message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append(
                (envelope.mail_from or "", list(envelope.rcpt_tos), envelope.content or b"")
            )
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            raws = [raw for _, rcpt, raw in self.received if address in rcpt]
        out = []
        for raw in raws:
            parsed = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            assert SUBJECT not in raw.decode("ascii", "replace")
            out.append(parsed)
        return out


@pytest.fixture(scope="module")
def sink(stack: Stack) -> Iterator[Sink]:
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=stack.addresses.smtp_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def _texts(message: EmailMessage) -> str:
    return "\n".join(
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    )


def _pro(api: Api) -> tuple[str, str]:
    address = f"pro.{uuid.uuid4().hex[:10]}@hopital-test.mssante.fr"
    return address, api.mailbox(address, "PER", "Dr Secret Nom", rpps="10101234567")


def test_patient_is_emailed_and_the_sender_gets_a_receipt(api: Api, sink: Sink) -> None:
    patient, patient_token = api.patient(state="created", app_installed=False)
    ins = patient.split("@")[0]
    sender, pro_token = _pro(api)
    sent = api.send(
        pro_token,
        **{"from": sender, "to": patient, "subject": SUBJECT, "body": BODY, "read_receipt": True},
    )
    assert sent.status_code == 202, sent.text
    [mail] = eventually(lambda: sink.to(f"p{ins}@example.org"), timeout=20)
    text = _texts(mail)
    assert "nouveau message" in text and "Dr Secret Nom" not in text and BODY not in text
    assert mail["Auto-Submitted"] == "auto-generated"

    api.set_state(patient, "activated")
    api.delivered(patient_token, sent.json()["message_id"])  # opening it reads it
    [mdn] = eventually(
        lambda: [
            m for m in sink.to(sender) if m.get_param("report-type") == "disposition-notification"
        ],
        timeout=20,
    )
    raw = mdn.as_string()
    assert f"<{sent.json()['message_id']}@messagerie.mssante.fr>" in raw
    assert "manual-action/MDN-sent-manually; displayed" in raw

    ops = api.as_(api.ops)
    records = api.http.get("/v1/admin/notifications", headers=ops, params={"recipient": ins})
    assert records.status_code == 200
    assert [r["state"] for r in records.json()["items"]] == ["sent"]


def test_a_closed_mailbox_gives_the_sender_a_delivery_status_notification(
    api: Api, sink: Sink
) -> None:
    patient, _ = api.patient()
    assert api.set_state(patient, "closed").status_code == 200
    sender, pro_token = _pro(api)
    sent = api.send(pro_token, **{"from": sender, "to": patient, "subject": SUBJECT, "body": BODY})
    assert sent.status_code == 202, sent.text
    [dsn] = eventually(lambda: sink.to(sender), timeout=20)
    assert dsn["Subject"] == NON_DELIVERY_SUBJECT
    human, status, _headers = dsn.iter_parts()
    assert human.get_content().strip() == (
        f"Le message que vous avez envoyé à l'adresse \"{patient}\" n'a pas pu être distribué, "
        "car la messagerie Mon espace santé de votre destinataire est clôturée."
    )
    per_recipient = status.get_payload()[1]
    assert per_recipient["Action"] == "failed" and per_recipient["Status"] == "5.2.1"


def test_a_pharmacy_is_alerted_and_the_app_shows_the_patient_a_notification(
    api: Api, sink: Sink
) -> None:
    patient, patient_token = api.patient(state="activated", app_installed=True)
    pharmacy = f"pharmacie.{uuid.uuid4().hex[:8]}@officine-test.mssante.fr"
    alert = f"alertes.{uuid.uuid4().hex[:6]}@pharmacie.example.org"
    pharmacy_token = api.mailbox(
        pharmacy,
        "ORG",
        "Pharmacie du Marché",
        finess="750012345",
        pharmacy=True,
        alert_email=alert,
    )
    h = api.as_(patient_token)
    r = api.http.post(
        "/v1/me/conversations", headers=h, json={"to": pharmacy, "subject": SUBJECT, "body": BODY}
    )
    assert r.status_code == 201, r.text
    [mail] = eventually(lambda: sink.to(alert), timeout=20)
    assert pharmacy in _texts(mail) and BODY not in _texts(mail)

    answer = api.send(
        pharmacy_token,
        **{"from": pharmacy, "to": patient, "subject": SUBJECT, "body": BODY},
    )
    assert answer.status_code == 202, answer.text

    def entries() -> list[dict[str, Any]]:
        page = api.http.get("/v1/me/notifications", headers=h).json()
        return list(page["items"]) if page["unseen"] == 1 else []

    [entry] = eventually(entries, timeout=20)
    assert entry["message_id"] == answer.json()["message_id"]
    assert SUBJECT not in str(entry) and BODY not in str(entry)
