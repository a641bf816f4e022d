"""Conversation with the REAL identity and pharmacy-directory apps (in-process HTTP) and a real
NATS server: what the gateway and the other services would see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest
from prometheus_client import REGISTRY

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted, MessageBounced
from mes_contracts.nondelivery import NonDeliveryReason, non_delivery_text
from mes_conversation.adapters.directory import HttpMailboxDirectory
from mes_conversation.adapters.identity import HttpPatientResolver
from mes_conversation.main import create_app
from mes_conversation.settings import ConversationSettings
from mes_dev.testing.nats_server import free_port
from mes_identity.main import create_app as create_identity_app
from mes_identity.settings import IdentitySettings
from mes_platform.clients import internal_client
from mes_platform.settings import DEV_INTERNAL_TOKEN

directory_app = pytest.importorskip("mes_pharmacy_directory.main")
directory_settings = pytest.importorskip("mes_pharmacy_directory.settings")

TOKEN = {"X-Internal-Token": DEV_INTERNAL_TOKEN}
DOCTOR = "dr.martin@hopital-exemple.mssante.fr"
PHARMACY = "pharmacie.centrale@officine.mssante.fr"
MARIE, CLOSED = "279035121518989", "185077512345608"


def _client(app: Any, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=TOKEN
    )


@asynccontextmanager
async def stack(tmp_path: Path, nats_url: str) -> AsyncIterator[dict[str, Any]]:
    common: dict[str, Any] = {
        "environment": "test",
        "nats_url": nats_url,
        "log_json": False,
        "log_level": "WARNING",
        "relay_poll_seconds": 0.1,
    }
    identity = create_identity_app(IdentitySettings(data_dir=tmp_path / "identity", **common))
    directory = directory_app.create_app(
        directory_settings.DirectorySettings(data_dir=tmp_path / "directory", **common)
    )
    async with AsyncExitStack() as s:
        await s.enter_async_context(identity.router.lifespan_context(identity))
        await s.enter_async_context(directory.router.lifespan_context(directory))
        identity_client = await s.enter_async_context(_client(identity, "identity"))
        directory_client = await s.enter_async_context(_client(directory, "directory"))
        directory_adapter = HttpMailboxDirectory(
            _client(directory, "directory"), cache_seconds=3600
        )
        resolver = HttpPatientResolver(_client(identity, "identity"), cache_seconds=3600)
        s.push_async_callback(directory_adapter.aclose)
        s.push_async_callback(resolver.aclose)
        conversation = create_app(
            ConversationSettings(data_dir=tmp_path / "conversation", **common),
            resolver=resolver,
            directory=directory_adapter,
        )
        await s.enter_async_context(conversation.router.lifespan_context(conversation))
        client = await s.enter_async_context(_client(conversation, "conversation"))
        yield {
            "conversation": client,
            "identity": identity_client,
            "directory": directory_client,
            "directory_adapter": directory_adapter,
            "resolver": resolver,
        }


async def _seed(c: dict[str, Any]) -> None:
    for ins, state in ((MARIE, "activated"), (CLOSED, "closed")):
        r = await c["identity"].put(
            f"/internal/patients/{ins}",
            json={"state": state, "birth_name": "DUPONT", "first_names": "Marie Louise"},
        )
        assert r.status_code == 201, r.text
    r = await c["directory"].put(
        f"/internal/mailboxes/{DOCTOR}",
        json={"type": "PER", "display_name": "Dr Martin", "rpps": "10001234567"},
    )
    assert r.status_code == 201, r.text
    r = await c["directory"].put(
        f"/internal/mailboxes/{PHARMACY}",
        json={
            "type": "ORG",
            "display_name": "Pharmacie Centrale",
            "finess": "750012345",
            "pharmacy": True,
        },
    )
    assert r.status_code == 201, r.text


async def _stream_events(nats_url: str, count: int) -> list[EventEnvelope]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        # The service's relay creates the stream when it first publishes, which may come just
        # after the answers above.
        for _ in range(100):
            try:
                sub = await js.pull_subscribe(
                    "mes.conversation.>", durable="test-reader", stream="MES_CONVERSATION"
                )
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the conversation service never created its stream")
        found: list[EventEnvelope] = []
        for _ in range(40):
            try:
                msgs = await sub.fetch(count - len(found), timeout=0.25)
            except TimeoutError:
                continue
            for msg in msgs:
                await msg.ack()
                found.append(EventEnvelope.from_json_bytes(msg.data))
            if len(found) >= count:
                break
        return found
    finally:
        await nc.close()


async def test_messages_with_real_identity_directory_and_nats(tmp_path, nats_server):
    async with stack(tmp_path, nats_server.url) as c:
        await _seed(c)
        sent = await c["conversation"].post(
            "/internal/messages",
            json={
                "from": "Dr.Martin@Hopital-Exemple.mssante.fr",
                "to": f"{MARIE}@patient.mssante.fr",
                "subject": "Résultats",
                "body": "Bonjour.",
            },
        )
        assert sent.status_code == 202, sent.text
        assert sent.json()["status"] == "accepted"
        to_closed = f"{CLOSED}@Patient.MSSante.fr"
        bounced = await c["conversation"].post(
            "/internal/messages",
            json={"from": DOCTOR, "to": to_closed, "subject": "Résultats", "body": "Bonjour."},
        )
        assert bounced.json()["bounce_reason"] == "closed"
        started = await c["conversation"].post(
            f"/internal/patients/{MARIE}/conversations",
            json={"to": PHARMACY, "subject": "Ordonnance", "body": "Bonjour."},
        )
        assert started.status_code == 201, started.text

        events = await _stream_events(nats_server.url, 5)
        types = [e.type for e in events]
        assert types.count(MessageAccepted.SUBJECT) == 2
        accepted = events[types.index(MessageAccepted.SUBJECT)].payload_as(MessageAccepted)
        assert accepted.sender.address == DOCTOR
        assert accepted.recipient.display_name == "Marie Dupont"
        report = events[types.index(MessageBounced.SUBJECT)].payload_as(MessageBounced)
        assert report.report_text == non_delivery_text(NonDeliveryReason.CLOSED, to_closed)


async def test_directory_updates_refresh_the_cached_entry(tmp_path, nats_server):
    async with stack(tmp_path, nats_server.url) as c:
        await _seed(c)
        cached = c["directory_adapter"]
        for _ in range(50):  # the subscription to the directory's changes is live
            if cached.watched():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the directory's changes are not received")
        assert (await cached.get(PHARMACY)).display_name == "Pharmacie Centrale"
        r = await c["directory"].put(
            f"/internal/mailboxes/{PHARMACY}",
            json={
                "type": "ORG",
                "display_name": "Grande Pharmacie",
                "finess": "750012345",
                "pharmacy": True,
            },
        )
        assert r.status_code == 200
        # The entry is cached for an hour here: only the MailboxRegistered event can refresh it.
        for _ in range(50):
            if (await cached.get(PHARMACY)).display_name == "Grande Pharmacie":
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the directory update never reached the cache")
        sent = await c["conversation"].post(
            "/internal/messages",
            json={
                "from": PHARMACY,
                "to": f"{MARIE}@patient.mssante.fr",
                "subject": "Prête",
                "body": "Votre commande est prête.",
            },
        )
        view = await c["conversation"].get(
            f"/internal/conversations/{sent.json()['conversation_id']}"
        )
        assert view.json()["correspondent"]["display_name"] == "Grande Pharmacie"


async def test_a_closed_profile_stops_receiving_at_once_despite_the_cache(tmp_path, nats_server):
    async with stack(tmp_path, nats_server.url) as c:
        await _seed(c)
        resolver = c["resolver"]
        for _ in range(50):  # the subscription to identity's changes is live
            if resolver.watched():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("identity's profile changes are not received")
        address = f"{MARIE}@patient.mssante.fr"
        message = {"from": DOCTOR, "to": address, "subject": "Bilan", "body": "Bonjour."}
        first = await c["conversation"].post("/internal/messages", json=message)
        assert first.json()["status"] == "accepted"
        assert (await resolver.resolve(address)).deliverable  # kept for an hour here
        r = await c["identity"].put(
            f"/internal/patients/{MARIE}",
            json={"state": "closed", "birth_name": "DUPONT", "first_names": "Marie Louise"},
        )
        assert r.status_code == 200, r.text
        for _ in range(50):  # only identity's PatientClosed event can drop the cached answer
            if resolver._cache.get(address) is None:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the profile change never reached the cache")
        second = await c["conversation"].post("/internal/messages", json=message)
        assert (second.json()["status"], second.json()["bounce_reason"]) == ("bounced", "closed")


async def test_identity_down_is_503_through_the_real_adapter(tmp_path):
    settings = ConversationSettings(
        environment="test",
        data_dir=tmp_path,
        nats_url=f"nats://127.0.0.1:{free_port()}",
        identity_url=f"http://127.0.0.1:{free_port()}",
        log_json=False,
        log_level="ERROR",
    )

    class Directory:
        async def get(self, address: str) -> Any:
            from mes_contracts.addresses import MailboxType
            from mes_conversation.domain.model import DirectoryEntry

            return DirectoryEntry(DOCTOR, MailboxType.PER, "Dr Martin")

    resolver = HttpPatientResolver(internal_client(settings.identity_url, DEV_INTERNAL_TOKEN))
    app = create_app(settings, resolver=resolver, directory=Directory())
    try:
        async with app.router.lifespan_context(app), _client(app, "conversation") as client:
            r = await client.post(
                "/internal/messages",
                json={
                    "from": DOCTOR,
                    "to": f"{MARIE}@patient.mssante.fr",
                    "subject": "s",
                    "body": "b",
                },
            )
            assert (r.status_code, r.json()["code"]) == (503, "dependency_unavailable")
    finally:
        await resolver.aclose()


async def test_concurrent_sends_commit_together_and_each_is_admitted_once(tmp_path, nats_server):
    """Sends served in the same turn of the event loop share one SQLite commit (group commit):
    each still gets its own answer, the same conversation takes them all, and every event
    reaches the stream."""
    labels = {"service": "conversation"}
    commits_before = REGISTRY.get_sample_value("mes_group_commits_total", labels) or 0.0
    members_before = REGISTRY.get_sample_value("mes_group_commit_members_total", labels) or 0.0
    async with stack(tmp_path, nats_server.url) as c:
        await _seed(c)
        body = {"from": DOCTOR, "to": f"{MARIE}@patient.mssante.fr", "subject": "Résultats"}
        answers = await asyncio.gather(
            *(
                c["conversation"].post("/internal/messages", json={**body, "body": f"n°{n}"})
                for n in range(20)
            )
        )
        assert [a.status_code for a in answers] == [202] * 20
        assert len({a.json()["message_id"] for a in answers}) == 20
        assert len({a.json()["conversation_id"] for a in answers}) == 1
        events = await _stream_events(nats_server.url, 21)  # one opening, 20 messages
        assert sorted(e.type for e in events).count(MessageAccepted.SUBJECT) == 20
    commits = (REGISTRY.get_sample_value("mes_group_commits_total", labels) or 0.0) - commits_before
    members = (
        REGISTRY.get_sample_value("mes_group_commit_members_total", labels) or 0.0
    ) - members_before
    assert members == 20
    assert 1 <= commits < 20
