"""Fixtures of the mailbox tests: the service in-process on a real database and a real NATS,
and builders for the events and files the tests feed it."""

from __future__ import annotations

import asyncio
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted, MessageBounced
from mes_contracts.events.parties import AttachmentRef, Party, PartyKind
from mes_contracts.nondelivery import NonDeliveryReason, non_delivery_text
from mes_dev.testing import NatsServer
from mes_mailbox.adapters.uow import MailboxUnitOfWork
from mes_mailbox.main import create_app
from mes_mailbox.service.delivery import deliver_many
from mes_mailbox.settings import MailboxSettings
from mes_platform.bus import EventBus

PATIENT = "279035121518989@patient.mssante.fr"
OTHER_PATIENT = "184127645108946@patient.mssante.fr"
DOCTOR = "dr.martin@hopital-exemple.mssante.fr"
PHARMACY = "officine.centrale@pharmacie.mssante.fr"
T0 = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def _compound_file(stream: str) -> bytes:
    """An OLE2 compound file (version 3, 512-byte sectors) holding one stream named
    ``stream`` of 4,096 bytes: the container of .doc ("WordDocument"), .xls ("Workbook")
    and .msi files alike."""
    end, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    data_sectors = 8  # sectors 2-9; sector 0 is the FAT, sector 1 the directory
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", 0, *[free] * 108)
    )
    chain = [fat_sector, end] + [3 + i for i in range(data_sectors - 1)] + [end]
    fat = struct.pack("<128I", *chain, *[free] * (128 - len(chain)))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\x00\x00" if name else b""
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1 if name else 0)
            + struct.pack("<III", no_stream, no_stream, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )

    directory = (
        entry("Root Entry", 5, 1, end, 0)
        + entry(stream, 2, no_stream, 2, 512 * data_sectors)
        + entry("", 0, no_stream, 0, 0) * 2
    )
    return header + fat + directory + b"\x00" * (512 * data_sectors)


FILES: dict[str, bytes] = {
    "pdf": b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
    "png": _png(),
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
    "tiff": b"II*\x00\x08\x00\x00\x00\x00\x00",
    "rtf": b"{\\rtf1\\ansi Ordonnance}",
    "doc": _compound_file("WordDocument"),
    # The same container, not a Word document: a spreadsheet, and a bare signature.
    "xls": _compound_file("Workbook"),
    "ole-signature": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24,
    "txt": "Bonjour, voici mon ordonnance à renouveler.\n".encode(),
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
}


def party(address: str, name: str, kind: PartyKind = PartyKind.PROFESSIONAL) -> Party:
    return Party(address=address, kind=kind, display_name=name)


def accepted(
    *,
    message_id: str | None = None,
    sender: str = DOCTOR,
    recipient: str = PATIENT,
    conversation_id: str = "conv-1",
    subject: str = "Résultats d'analyses",
    sent_at: datetime = T0,
    receipt: bool = False,
    attachments: tuple[AttachmentRef, ...] = (),
) -> EventEnvelope:
    def kind(address: str) -> PartyKind:
        return (
            PartyKind.PATIENT if address.endswith("@patient.mssante.fr") else PartyKind.PROFESSIONAL
        )

    payload = MessageAccepted(
        message_id=message_id or f"msg-{uuid.uuid4().hex[:12]}",
        conversation_id=conversation_id,
        sender=party(sender, "Dr Martin" if sender == DOCTOR else "Marie Dupont", kind(sender)),
        recipient=party(
            recipient, "Marie Dupont" if recipient == PATIENT else "Autre", kind(recipient)
        ),
        subject=subject,
        body="Bonjour, voici vos résultats.",
        attachments=attachments,
        read_receipt_requested=receipt,
        sent_at=sent_at,
    )
    return EventEnvelope.wrap(payload, correlation_id="test")


def bounced(*, message_id: str = "msg-bounced", recipient: str = PATIENT) -> EventEnvelope:
    payload = MessageBounced(
        message_id=message_id,
        sender=party(DOCTOR, "Dr Martin"),
        recipient_address=recipient,
        subject="Compte rendu",
        reason=NonDeliveryReason.CLOSED,
        report_text=non_delivery_text(NonDeliveryReason.CLOSED, recipient),
        bounced_at=T0 + timedelta(seconds=1),
    )
    return EventEnvelope.wrap(payload, correlation_id="test")


@dataclass
class Service:
    app: FastAPI
    settings: MailboxSettings
    client: httpx.AsyncClient
    nats: NatsServer

    async def deliver(self, *envelopes: EventEnvelope) -> None:
        """Deliver without the bus, as the consumer's handler does (fast seeding)."""
        runtime = self.app.state.runtime
        async with MailboxUnitOfWork(runtime.db, "mailbox") as uow:
            await deliver_many(uow, envelopes)
            await uow.commit()

    async def upload(self, content: bytes, filename: str, owner: str = PATIENT) -> httpx.Response:
        files = {"file": (filename, content, "application/octet-stream")}
        return await self.client.post("/internal/attachments", data={"owner": owner}, files=files)

    async def listing(self, address: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"/internal/mailboxes/{address}/messages", params=params)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class Kit:
    """What the tests share (conftest modules cannot be imported under importlib mode)."""

    PATIENT = PATIENT
    OTHER_PATIENT = OTHER_PATIENT
    DOCTOR = DOCTOR
    PHARMACY = PHARMACY
    T0 = T0
    FILES = FILES
    accepted = staticmethod(accepted)
    bounced = staticmethod(bounced)
    eventually = staticmethod(eventually)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def service_database_url() -> str:
    """SQLite under tmp_path; storage modules override this with ``database_url`` (both
    engines)."""
    return ""


@pytest.fixture
async def service(
    tmp_path: Path,
    nats_server: NatsServer,
    settings_overrides: dict[str, Any],
    service_database_url: str,
) -> AsyncIterator[Service]:
    database_url = service_database_url
    settings = MailboxSettings(
        data_dir=tmp_path,
        nats_url=nats_server.url,
        database_url=database_url,
        log_json=False,
        log_level="WARNING",
        **settings_overrides,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        token = settings.internal_token.get_secret_value()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers={"X-Internal-Token": token},
        ) as client:
            yield Service(app, settings, client, nats_server)


@pytest.fixture
async def publisher(nats_server: NatsServer) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    bus = EventBus(nats_server.url, name="test-publisher")
    bus.start()
    await bus.wait_connected(10)
    await bus.ensure_streams(["MES_CONVERSATION", "MES_MAILBOX"])

    async def publish(envelope: EventEnvelope, msg_id: str | None = None) -> None:
        await bus.js.publish(
            envelope.type, envelope.to_json_bytes(), headers={"Nats-Msg-Id": msg_id or envelope.id}
        )

    publish.bus = bus  # type: ignore[attr-defined]
    try:
        yield publish
    finally:
        await bus.close()
