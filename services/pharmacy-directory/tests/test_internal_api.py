"""The internal API on both engines, with a real NATS server for the events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mes_contracts import EventEnvelope
from mes_contracts.events.directory import MailboxRegistered
from mes_pharmacy_directory.main import create_app
from mes_pharmacy_directory.settings import DirectorySettings
from mes_platform.tables import outbox
from mes_platform.testing import NatsServer

PHARMACY = "pharmacie.centrale@officine.mssante.fr"
PHARMACY_BODY = {
    "type": "ORG",
    "display_name": "Pharmacie Centrale",
    "finess": "750012345",
    "pharmacy": True,
}


@pytest.fixture
async def app(database_url: str, nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = DirectorySettings(
        data_dir=tmp_path,
        database_url=database_url,
        nats_url=nats_server.url,
        relay_poll_seconds=0.05,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    token = app.state.runtime.settings.internal_token.get_secret_value()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://t",
        headers={"X-Internal-Token": token},
    ) as c:
        yield c


async def _published(app: FastAPI, expected: int) -> list[EventEnvelope]:
    """The directory stream once the outbox is drained and ``expected`` events are out."""
    runtime = app.state.runtime
    for _ in range(200):
        async with runtime.db.reading() as conn:
            pending = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        if pending == 0 and runtime.bus.is_connected:
            try:
                info = await runtime.bus.js.stream_info("MES_DIRECTORY")
                if info.state.messages >= expected:
                    break
            except Exception:  # the stream appears with the first publish
                pass
        await asyncio.sleep(0.05)
    sub = await runtime.bus.js.pull_subscribe("", stream="MES_DIRECTORY")
    try:
        msgs = await sub.fetch(expected + 5, timeout=0.5)
    except TimeoutError:
        msgs = []
    finally:
        await sub.unsubscribe()
    return [EventEnvelope.from_json_bytes(m.data) for m in msgs]


async def test_registering_then_replaying_emits_one_event_per_real_change(
    app: FastAPI,
    client: httpx.AsyncClient,
) -> None:
    created = await client.put(f"/internal/mailboxes/{PHARMACY.upper()}", json=PHARMACY_BODY)
    assert created.status_code == 201
    body = created.json()
    assert body | {"updated_at": None} == {
        "address": PHARMACY,
        "type": "ORG",
        "display_name": "Pharmacie Centrale",
        "rpps": None,
        "finess": "750012345",
        "pharmacy": True,
        "updated_at": None,
    }
    replay = await client.put(f"/internal/mailboxes/{PHARMACY}", json=PHARMACY_BODY)
    assert replay.status_code == 200
    assert replay.json() == body  # same updated_at: nothing was written
    renamed = await client.put(
        f"/internal/mailboxes/{PHARMACY}",
        json=PHARMACY_BODY | {"display_name": "Pharmacie du Centre"},
    )
    assert renamed.status_code == 200
    assert renamed.json()["display_name"] == "Pharmacie du Centre"

    events = await _published(app, 2)
    assert [e.type for e in events] == [MailboxRegistered.SUBJECT] * 2
    payloads = [e.parse_payload() for e in events]
    assert [p.display_name for p in payloads] == ["Pharmacie Centrale", "Pharmacie du Centre"]
    assert payloads[0] == MailboxRegistered(
        address=PHARMACY,
        type="ORG",
        display_name="Pharmacie Centrale",
        rpps=None,
        finess="750012345",
        pharmacy=True,
    )
    assert all(e.producer == "directory" for e in events)

    fetched = await client.get(f"/internal/mailboxes/{PHARMACY.replace('centrale', 'CENTRALE')}")
    assert fetched.status_code == 200
    assert fetched.json() == renamed.json()


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("279035121518989@patient.mssante.fr", {"type": "PER", "display_name": "X"}, "invalid_address"),
    ("dr.martin@gmail.com", {"type": "PER", "display_name": "X"}, "invalid_address"),
    (PHARMACY, PHARMACY_BODY | {"type": "CAB"}, "pharmacy_requires_org"),
    (PHARMACY, PHARMACY_BODY | {"finess": None}, "invalid_finess"),
    (PHARMACY, PHARMACY_BODY | {"finess": "75001"}, "invalid_finess"),
    (
        "dr.martin@hopital.mssante.fr",
        {"type": "PER", "display_name": "Dr Martin", "rpps": "123"},
        "invalid_rpps",
    ),
    (PHARMACY, PHARMACY_BODY | {"owner": "me"}, "validation_error"),
    (PHARMACY, PHARMACY_BODY | {"type": "XYZ"}, "validation_error"),
]


@pytest.fixture
async def default_app(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The service as configured by default: a SQLite file in its data directory."""
    application = create_app(DirectorySettings(data_dir=tmp_path, nats_url=nats_server.url))
    async with application.router.lifespan_context(application):
        yield application


async def test_refusals_are_problems_with_stable_codes(
    default_app: FastAPI, tmp_path: Path
) -> None:
    assert (tmp_path / "directory.db").exists()
    token = default_app.state.runtime.settings.internal_token.get_secret_value()
    transport = httpx.ASGITransport(app=default_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"X-Internal-Token": token}
    ) as client:
        for address, body, code in REFUSALS:
            response = await client.put(f"/internal/mailboxes/{address}", json=body)
            assert (response.status_code, response.json()["code"]) == (422, code), address
            assert response.headers["content-type"] == "application/problem+json"
        invalid = await client.get("/internal/mailboxes/279035121518989@patient.mssante.fr")
        assert (invalid.status_code, invalid.json()["code"]) == (422, "invalid_address")
        missing = await client.get("/internal/mailboxes/nobody@hopital.mssante.fr")
        assert (missing.status_code, missing.json()["code"]) == (404, "mailbox_not_found")
        # Nothing refused was stored.
        assert (await client.get("/internal/mailboxes")).json() == {
            "items": [],
            "next_cursor": None,
        }
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as anonymous:
        refused = await anonymous.get(f"/internal/mailboxes/{PHARMACY}")
    assert refused.status_code == 401


async def test_search_filters_and_pages_by_address(client: httpx.AsyncClient) -> None:
    entries = {
        "a.pharma@officine.mssante.fr": PHARMACY_BODY
        | {"display_name": "Pharmacie Générale", "finess": "2A0001234"},
        "b.pharma@officine.mssante.fr": PHARMACY_BODY
        | {"display_name": "Pharmacie du Port", "finess": "130001234"},
        "c.service@chu.mssante.fr": {
            "type": "ORG",
            "display_name": "Cardiologie CHU",
            "finess": "130000001",
        },
        "d.martin@medecin.mssante.fr": {
            "type": "PER",
            "display_name": "Dr Marie Martin",
            "rpps": "10001234567",
        },
        "e.labo@labo.mssante.fr": {"type": "APP", "display_name": "Résultats 100% labo"},
    }
    for address, body in entries.items():
        assert (await client.put(f"/internal/mailboxes/{address}", json=body)).status_code == 201

    async def addresses(**params: Any) -> list[str]:
        response = await client.get("/internal/mailboxes", params=params)
        assert response.status_code == 200, response.text
        return [item["address"] for item in response.json()["items"]]

    assert await addresses() == sorted(entries)
    assert await addresses(pharmacy="true") == [
        "a.pharma@officine.mssante.fr",
        "b.pharma@officine.mssante.fr",
    ]
    assert await addresses(type="PER") == ["d.martin@medecin.mssante.fr"]
    assert await addresses(q="GENERALE") == ["a.pharma@officine.mssante.fr"]
    assert await addresses(q="10001234567") == ["d.martin@medecin.mssante.fr"]
    assert await addresses(q="100%") == ["e.labo@labo.mssante.fr"]  # % is not a wildcard
    assert await addresses(type="ORG", pharmacy="false") == ["c.service@chu.mssante.fr"]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/internal/mailboxes", params=params)).json()
        seen += [item["address"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(entries)

    too_many = await client.get("/internal/mailboxes", params={"limit": 201})
    assert too_many.status_code == 422
    bad_cursor = await client.get("/internal/mailboxes", params={"cursor": "!!"})
    assert bad_cursor.json()["code"] == "invalid_cursor"
