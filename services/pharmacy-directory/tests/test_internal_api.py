"""The internal API on both engines, with a real NATS server for the events."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mes_contracts import EventEnvelope
from mes_contracts.events.directory import MailboxRegistered
from mes_dev.testing import NatsServer
from mes_pharmacy_directory.main import create_app
from mes_pharmacy_directory.settings import DirectorySettings
from mes_platform.tables import outbox

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
        "alert_email": None,
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
    # A patient's address is not a mailbox, whatever else the body says.
    (
        "279035121518989@patient.mssante.fr",
        {"type": "ORG", "display_name": "X", "pharmacy": True},
        "invalid_address",
    ),
    ("279035121518989@patient.mssante.fr", PHARMACY_BODY | {"type": "PER"}, "invalid_address"),
    (
        "dr.martin@hopital.mssante.fr",
        {"type": "PER", "display_name": "Dr X\r\nBcc: y@evil.example"},
        "invalid_name",
    ),
    (
        "dr.martin@hopital.mssante.fr",
        {"type": "PER", "display_name": "Dr \u202eevil"},
        "invalid_name",
    ),
    ("dr.martin@hopital.mssante.fr", {"type": "PER", "display_name": "Dr\u0000X"}, "invalid_name"),
    (
        "dr.martin@hopital.mssante.fr",
        {"type": "PER", "display_name": "D" * 201},
        "validation_error",
    ),
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
            assert (response.status_code, response.json()["code"]) == (422, code), (address, body)
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


async def test_the_patient_address_is_refused_as_such_before_the_pharmacy_rules(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(
        "/internal/mailboxes/279035121518989@patient.mssante.fr",
        json={"type": "ORG", "display_name": "x", "pharmacy": True},
    )
    problem = response.json()
    assert (response.status_code, problem["code"], problem["reason"]) == (
        422,
        "invalid_address",
        "patient_domain",
    )


@pytest.mark.parametrize(
    "display_name",
    [
        "Dr X\r\nBcc: y@evil.example",
        "Dr X\nY",
        "Dr\tX",
        "Dr\u0000X",
        "Dr\u0085X",  # NEL, a C1 control
        "Dr\u202eevil",  # right-to-left override
        "Dr \u2066X\u2069",  # left-to-right isolate
        "Dr\u2028X",  # line separator
        "Dr\u2029X",  # paragraph separator
    ],
)
async def test_display_names_with_control_characters_are_refused(
    app: FastAPI, client: httpx.AsyncClient, display_name: str
) -> None:
    response = await client.put(
        "/internal/mailboxes/dr.x@hopital.mssante.fr",
        json={"type": "PER", "display_name": display_name},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["field"], problem["reason"]) == (
        "invalid_name",
        "display_name",
        "control_characters",
    )
    missing = await client.get("/internal/mailboxes/dr.x@hopital.mssante.fr")
    assert missing.status_code == 404
    # Nothing was announced either: the first event out is the next registration's.
    await client.put(f"/internal/mailboxes/{PHARMACY}", json=PHARMACY_BODY)
    assert [e.payload["address"] for e in await _published(app, 1)] == [PHARMACY]


async def test_display_names_are_stored_trimmed(client: httpx.AsyncClient) -> None:
    body = PHARMACY_BODY | {"display_name": "  Pharmacie Centrale\n "}
    created = await client.put(f"/internal/mailboxes/{PHARMACY}", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["display_name"] == "Pharmacie Centrale"
    replay = await client.put(f"/internal/mailboxes/{PHARMACY}", json=PHARMACY_BODY)
    assert replay.json() == created.json()  # the same name: nothing written again


async def test_names_of_any_spelling_up_to_the_limit_are_stored_on_both_engines(
    client: httpx.AsyncClient,
) -> None:
    """PostgreSQL enforces the column lengths SQLite ignores. A name of 200 characters whose
    search form is three times longer ("ﬃ" is "ffi") is stored and found; 201 is refused."""
    address = "ligatures@officine.mssante.fr"
    name = "ﬃ" * 200
    stored = await client.put(
        f"/internal/mailboxes/{address}", json={"type": "ORG", "display_name": name}
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["display_name"] == name
    found = await client.get("/internal/mailboxes", params={"q": "ffiffi"})
    assert [item["address"] for item in found.json()["items"]] == [address]
    too_long = await client.put(
        f"/internal/mailboxes/{address}", json={"type": "ORG", "display_name": "ﬃ" * 201}
    )
    assert (too_long.status_code, too_long.json()["code"]) == (422, "validation_error")
    nul = await client.put(
        f"/internal/mailboxes/{address}", json={"type": "ORG", "display_name": "A\u0000B"}
    )
    assert (nul.status_code, nul.json()["code"]) == (422, "invalid_name")
    assert (await client.get(f"/internal/mailboxes/{address}")).json()["display_name"] == name


async def test_queries_and_cursors_with_a_nul_are_refused_on_both_engines(
    client: httpx.AsyncClient,
) -> None:
    query = await client.get("/internal/mailboxes", params={"q": "a\u0000b"})
    assert (query.status_code, query.json()["code"]) == (422, "invalid_query")
    forged = base64.urlsafe_b64encode(b"a\x00@b.mssante.fr").decode().rstrip("=")
    cursor = await client.get("/internal/mailboxes", params={"cursor": forged})
    assert (cursor.status_code, cursor.json()["code"]) == (422, "invalid_cursor")


async def test_one_mailbox_whatever_the_case_it_is_written_in(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = {"type": "PER", "display_name": "Dr Martin", "rpps": "10001234567"}
    created = await client.put("/internal/mailboxes/Dr.Martin@X.mssante.fr", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["address"] == "dr.martin@x.mssante.fr"
    found = await client.get("/internal/mailboxes/dr.martin@x.mssante.fr")
    assert found.status_code == 200
    assert found.json() == created.json()
    again = await client.put("/internal/mailboxes/DR.MARTIN@x.MSSANTE.FR", json=body)
    assert (again.status_code, again.json()) == (200, created.json())
    listing = (await client.get("/internal/mailboxes")).json()["items"]
    assert [item["address"] for item in listing] == ["dr.martin@x.mssante.fr"]
    (event,) = await _published(app, 1)
    assert event.payload["address"] == "dr.martin@x.mssante.fr"
