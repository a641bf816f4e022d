"""Test helpers: in-memory fakes of the ports to identity and the directory, and a harness
around the real app (real database, in-process HTTP).

Without a reachable NATS server the outbox keeps every event, so tests read what the service
emitted straight from its outbox (the events it committed, in order).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from mes_contracts import EventEnvelope
from mes_contracts.addresses import MailboxType
from mes_contracts.events.identity import PatientState
from mes_platform.tables import outbox

from .domain.model import DirectoryEntry, PatientResolution, ResolutionStatus
from .main import create_app
from .service.ports import DependencyUnavailable
from .settings import ConversationSettings


def _unused_port() -> int:
    """A port nothing listens on: the service's NATS stays unreachable, the outbox keeps all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


PATIENT = "279035121518989"
OTHER_PATIENT = "185077512345608"
CLOSED_PATIENT = "299019912312325"
OPPOSED_PATIENT = "172047501234561"
DOCTOR = "dr.martin@hopital-exemple.mssante.fr"
OTHER_DOCTOR = "dr.durand@clinique.mssante.fr"
PHARMACY = "pharmacie.centrale@officine.mssante.fr"
LAB = "resultats@labo.mssante.fr"
UNREGISTERED = "inconnu@hopital-exemple.mssante.fr"


def address_of(ins: str) -> str:
    return f"{ins}@patient.mssante.fr"


class FakeResolver:
    """Identity as a dict: unknown addresses are "not_found"; ``down`` simulates an outage."""

    def __init__(self) -> None:
        self.answers: dict[str, PatientResolution] = {}
        self.down = False
        self.calls: list[str] = []
        self.forgotten: list[str] = []

    def patient(
        self,
        ins: str,
        state: PatientState = PatientState.ACTIVATED,
        display_name: str = "Marie Dupont",
    ) -> None:
        address = address_of(ins)
        if state in (PatientState.CREATED, PatientState.ACTIVATED):
            self.answers[address] = PatientResolution(
                address,
                ResolutionStatus.DELIVERABLE,
                ins=ins,
                display_name=display_name,
                state=state,
            )
        else:
            status = (
                ResolutionStatus.CLOSED
                if state is PatientState.CLOSED
                else (ResolutionStatus.NOT_FOUND)
            )
            self.answers[address] = PatientResolution(address, status, ins=ins)

    def forget(self, address: str) -> None:
        self.forgotten.append(address)

    async def resolve(self, address: str) -> PatientResolution:
        self.calls.append(address)
        if self.down:
            raise DependencyUnavailable("identity is down")
        return self.answers.get(address) or PatientResolution(
            address, ResolutionStatus.NOT_FOUND, ins=address.split("@")[0]
        )


class FakeDirectory:
    def __init__(self) -> None:
        self.entries: dict[str, DirectoryEntry] = {}
        self.down = False

    def add(
        self, address: str, type_: MailboxType, display_name: str, pharmacy: bool = False
    ) -> None:
        self.entries[address] = DirectoryEntry(address, type_, display_name, pharmacy)

    async def get(self, address: str) -> DirectoryEntry | None:
        if self.down:
            raise DependencyUnavailable("directory is down")
        return self.entries.get(address)


class Harness:
    def __init__(
        self, app: Any, client: httpx.AsyncClient, resolver: FakeResolver, directory: FakeDirectory
    ) -> None:
        self.app = app
        self.client = client
        self.resolver = resolver
        self.directory = directory

    async def events(self, type_: str | None = None) -> list[EventEnvelope]:
        async with self.app.state.runtime.db.reading() as conn:
            rows = (await conn.execute(select(outbox.c.body).order_by(outbox.c.seq))).all()
        envelopes = [EventEnvelope.from_json_bytes(r.body) for r in rows]
        return [e for e in envelopes if type_ is None or e.type == type_]

    async def send(self, headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "from": DOCTOR,
            "to": address_of(PATIENT),
            "subject": "Résultats",
            "body": "Bonjour.",
        }
        body.update(fields)
        return await self.client.post("/internal/messages", json=body, headers=headers or {})

    async def reply(
        self,
        conversation_id: str,
        ins: str = PATIENT,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> httpx.Response:
        body: dict[str, Any] = {"body": "Merci docteur."}
        body.update(fields)
        return await self.client.post(
            f"/internal/patients/{ins}/conversations/{conversation_id}/messages",
            json=body,
            headers=headers or {},
        )

    async def start(
        self, to: str, ins: str = PATIENT, headers: dict[str, str] | None = None, **fields: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"to": to, "subject": "Ordonnance", "body": "Bonjour."}
        body.update(fields)
        return await self.client.post(
            f"/internal/patients/{ins}/conversations", json=body, headers=headers or {}
        )


def standard_world(resolver: FakeResolver, directory: FakeDirectory) -> None:
    resolver.patient(PATIENT, PatientState.ACTIVATED, "Marie Dupont")
    resolver.patient(OTHER_PATIENT, PatientState.CREATED, "Paul Martin")
    resolver.patient(CLOSED_PATIENT, PatientState.CLOSED)
    resolver.patient(OPPOSED_PATIENT, PatientState.OPPOSED)
    directory.add(DOCTOR, MailboxType.PER, "Dr Martin")
    directory.add(OTHER_DOCTOR, MailboxType.PER, "Dr Durand")
    directory.add(PHARMACY, MailboxType.ORG, "Pharmacie Centrale", pharmacy=True)
    directory.add(LAB, MailboxType.APP, "Laboratoire Bio")


def settings_for(tmp_path: Path, database_url: str = "", **overrides: Any) -> ConversationSettings:
    # A port nobody listens on: events stay in the outbox, where the tests read them.
    return ConversationSettings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        nats_url=overrides.pop("nats_url", f"nats://127.0.0.1:{_unused_port()}"),
        log_json=False,
        log_level="WARNING",
        relay_poll_seconds=0.1,
        **overrides,
    )


@asynccontextmanager
async def running(
    settings: ConversationSettings, resolver: Any = None, directory: Any = None
) -> AsyncIterator[Harness]:
    fake_resolver, fake_directory = FakeResolver(), FakeDirectory()
    standard_world(fake_resolver, fake_directory)
    app = create_app(
        settings, resolver=resolver or fake_resolver, directory=directory or fake_directory
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://conversation",
            headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
        ) as client,
    ):
        yield Harness(app, client, fake_resolver, fake_directory)
