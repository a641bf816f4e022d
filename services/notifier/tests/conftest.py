"""Fixtures of the notifier tests: the service in-process on a real database and a real NATS,
a real SMTP server (aiosmtpd) that keeps what it receives, and builders for the events the
other services publish."""

from __future__ import annotations

import asyncio
import email
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI

from mes_contracts import EventEnvelope
from mes_contracts.addresses import MailboxType
from mes_contracts.events.conversation import MessageAccepted, MessageBounced
from mes_contracts.events.directory import MailboxRegistered
from mes_contracts.events.identity import PatientActivated, PatientCreated, PatientState
from mes_contracts.events.mailbox import MessageRead
from mes_contracts.events.parties import AttachmentRef, Party, PartyKind
from mes_contracts.nondelivery import NonDeliveryReason, non_delivery_text
from mes_dev.testing import NatsServer, free_port
from mes_notifier.main import create_app
from mes_notifier.settings import NotifierSettings
from mes_platform.bus import EventBus

INS = "279035121518989"
PATIENT = f"{INS}@patient.mssante.fr"
PATIENT_EMAIL = "marie.dupont@example.org"
DOCTOR = "dr.martin@hopital-exemple.mssante.fr"
PHARMACY = "officine.centrale@pharmacie.mssante.fr"
PHARMACY_ALERTS = "alertes@pharmacie-centrale.fr"
T0 = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
# What a health message says; no e-mail or push may carry any of it.
SECRET_SUBJECT = "Résultats sérologie VIH"
SECRET_BODY = "Votre charge virale est indétectable."
SECRET_SENDER = "Dr Martin-Secret"
SECRET_FILE = "compte-rendu-oncologie.pdf"
SECRETS = (SECRET_SUBJECT, SECRET_BODY, SECRET_SENDER, SECRET_FILE)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1. ``refuse`` maps a recipient to a reply code."""

    port: int
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        code = self.refuse.get(address)
        if code is not None:
            return f"{code} {'5.1.1 no such user' if code >= 500 else '4.2.1 try later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append(
                Received(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.content or b"")
            )
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(free_port())
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def party(address: str, name: str, kind: PartyKind) -> Party:
    return Party(address=address, kind=kind, display_name=name)


def accepted(
    *,
    recipient: str = PATIENT,
    kind: PartyKind = PartyKind.PATIENT,
    message_id: str | None = None,
) -> EventEnvelope:
    return EventEnvelope.wrap(
        MessageAccepted(
            message_id=message_id or f"msg-{uuid.uuid4().hex[:12]}",
            conversation_id="conv-1",
            sender=party(DOCTOR, SECRET_SENDER, PartyKind.PROFESSIONAL),
            recipient=party(recipient, "Destinataire", kind),
            subject=SECRET_SUBJECT,
            body=SECRET_BODY,
            attachments=(
                AttachmentRef(
                    id="att-1",
                    filename=SECRET_FILE,
                    content_type="application/pdf",
                    size=10,
                    sha256="0" * 64,
                ),
            ),
            sent_at=T0,
        ),
        correlation_id="test",
    )


def bounced(reason: NonDeliveryReason, recipient: str = PATIENT) -> EventEnvelope:
    return EventEnvelope.wrap(
        MessageBounced(
            message_id=f"msg-{uuid.uuid4().hex[:12]}",
            sender=party(DOCTOR, SECRET_SENDER, PartyKind.PROFESSIONAL),
            recipient_address=recipient,
            subject=SECRET_SUBJECT,
            reason=reason,
            report_text=non_delivery_text(reason, recipient),
            bounced_at=T0 + timedelta(seconds=1),
        ),
        correlation_id="test",
    )


def read(message_id: str, *, receipt: bool = True) -> EventEnvelope:
    return EventEnvelope.wrap(
        MessageRead(
            message_id=message_id,
            mailbox_address=PATIENT,
            read_at=T0 + timedelta(hours=2),
            read_receipt_requested=receipt,
            original_sender_address=DOCTOR,
            subject=SECRET_SUBJECT,
        ),
        correlation_id="test",
    )


def profile(
    *,
    ins: str = INS,
    email_address: str | None = PATIENT_EMAIL,
    activated: bool = False,
    app: bool = False,
) -> EventEnvelope:
    cls = PatientActivated if activated else PatientCreated
    return EventEnvelope.wrap(
        cls(
            ins=ins,
            state=PatientState.ACTIVATED if activated else PatientState.CREATED,
            previous_state=PatientState.CREATED if activated else None,
            birth_name="DUPONT",
            first_names="Marie",
            display_name="Marie Dupont",
            email=email_address,
            app_installed=app,
        ),
        correlation_id="test",
    )


def mailbox(alert_email: str | None = PHARMACY_ALERTS) -> EventEnvelope:
    return EventEnvelope.wrap(
        MailboxRegistered(
            address=PHARMACY,
            type=MailboxType.ORG,
            display_name="Pharmacie Centrale",
            rpps=None,
            finess="750012345",
            pharmacy=True,
            alert_email=alert_email,
        ),
        correlation_id="test",
    )


async def eventually(check: Callable[[], Any], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class Kit:
    """What the tests share (conftest modules cannot be imported under importlib mode)."""

    INS = INS
    PATIENT = PATIENT
    PATIENT_EMAIL = PATIENT_EMAIL
    DOCTOR = DOCTOR
    PHARMACY = PHARMACY
    PHARMACY_ALERTS = PHARMACY_ALERTS
    SECRETS = SECRETS
    accepted = staticmethod(accepted)
    bounced = staticmethod(bounced)
    read = staticmethod(read)
    profile = staticmethod(profile)
    mailbox = staticmethod(mailbox)
    eventually = staticmethod(eventually)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@dataclass
class Service:
    app: FastAPI
    settings: NotifierSettings
    client: httpx.AsyncClient


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def service_database_url() -> str:
    return ""


@pytest.fixture
async def service(
    tmp_path: Path,
    nats_server: NatsServer,
    smtp_sink: SmtpSink,
    settings_overrides: dict[str, Any],
    service_database_url: str,
) -> AsyncIterator[Service]:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "nats_url": nats_server.url,
        "database_url": service_database_url,
        "smtp_port": smtp_sink.port,
        "group_window_seconds": 0,
        "sender_poll_seconds": 0.05,
        "retry_first_seconds": 0.1,
        "retry_max_seconds": 0.5,
        "log_json": False,
        "log_level": "WARNING",
    }
    values.update(settings_overrides)
    settings = NotifierSettings(**values)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
        ) as client,
    ):
        runtime = app.state.runtime
        for consumer in runtime.consumers:
            await asyncio.wait_for(consumer.ready.wait(), 15)
        yield Service(app, settings, client)


@pytest.fixture
async def publisher(nats_server: NatsServer) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    bus = EventBus(nats_server.url, name="test-publisher")
    bus.start()
    await bus.wait_connected(10)
    await bus.ensure_streams(["MES_IDENTITY", "MES_DIRECTORY", "MES_CONVERSATION", "MES_MAILBOX"])

    async def publish(*envelopes: EventEnvelope) -> None:
        for envelope in envelopes:
            await bus.js.publish(
                envelope.type, envelope.to_json_bytes(), headers={"Nats-Msg-Id": envelope.id}
            )

    try:
        yield publish
    finally:
        await bus.close()
