"""Pharmacies through the directory's internal API, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from mes_contracts import EventEnvelope
from mes_contracts.events.directory import MailboxRegistered
from mes_contracts.ins import ins_key
from mes_dev.testing import NatsServer
from mes_pharmacy_directory.domain.finess import luhn_digit
from mes_pharmacy_directory.main import create_app
from mes_pharmacy_directory.settings import DirectorySettings

INS = "1850775123456" + ins_key("1850775123456")


def finess(payload: str) -> str:
    """A FINESS number with its check digit (``payload``: 8 characters)."""
    digits = "20" + payload[2:] if payload[:2] in ("2A", "2B") else payload
    return payload + str(luhn_digit(digits))


# Real places; the FINESS numbers are made up but well formed.
BASTILLE = finess("75010001")
GARE_DE_LYON = finess("75010002")
LYON_BELLECOUR = finess("69010003")
AJACCIO = finess("2A010004")
PHARMACIES: list[dict[str, Any]] = [
    {
        "finess": BASTILLE,
        "name": "Pharmacie de la Bastille",
        "address_line": "4 place de la Bastille",
        "postal_code": "75011",
        "city": "PARIS",
        "lat": 48.8532,
        "lon": 2.3691,
    },
    {
        "finess": GARE_DE_LYON,
        "name": "Grande Pharmacie de la Gare de Lyon",
        "address_line": "20 boulevard Diderot",
        "postal_code": "75012",
        "city": "PARIS",
        "lat": 48.8448,
        "lon": 2.3735,
    },
    {
        "finess": LYON_BELLECOUR,
        "name": "Pharmacie Bellecour Éléphant",
        "address_line": "1 place Bellecour",
        "postal_code": "69002",
        "city": "LYON",
        "lat": 45.7578,
        "lon": 4.8320,
    },
    {
        "finess": AJACCIO,
        "name": "Pharmacie du Cours Napoléon",
        "address_line": "12 cours Napoléon",
        "postal_code": "20000",
        "city": "AJACCIO",
        "lat": 41.9266,
        "lon": 8.7369,
    },
]


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


async def _import(client: httpx.AsyncClient, run: str, items: list[dict[str, Any]]) -> Any:
    answer = await client.post(
        "/internal/pharmacies/batches", json={"run": run, "pharmacies": items}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    answer = await client.get("/internal/pharmacies", params=params)
    assert answer.status_code == 200, answer.text
    return [p["name"] for p in answer.json()["items"]]


async def test_a_wrong_check_digit_is_reported_and_never_stored(
    client: httpx.AsyncClient,
) -> None:
    wrong = BASTILLE[:8] + str((int(BASTILLE[8]) + 1) % 10)
    outcome = await _import(
        client, "r1", [PHARMACIES[0] | {"finess": wrong}, PHARMACIES[1], PHARMACIES[3]]
    )
    assert (outcome["created"], outcome["updated"], outcome["unchanged"]) == (2, 0, 0)
    assert outcome["rejected"] == [
        {"index": 0, "finess": wrong, "code": "invalid_finess", "detail": "wrong check digit"}
    ]
    assert (await client.get(f"/internal/pharmacies/{wrong}")).json()["code"] == "invalid_finess"
    assert (await client.get(f"/internal/pharmacies/{AJACCIO}")).json()["city"] == "AJACCIO"


async def test_search_by_words_city_and_postal_code_ignores_accents_and_case(
    client: httpx.AsyncClient,
) -> None:
    await _import(client, "r1", PHARMACIES)
    assert await _names(client, q="ELEPHANT bellec") == ["Pharmacie Bellecour Éléphant"]
    assert await _names(client, q="napoléon") == ["Pharmacie du Cours Napoléon"]
    assert await _names(client, q="paris") == [
        "Grande Pharmacie de la Gare de Lyon",
        "Pharmacie de la Bastille",
    ]
    # "lyon" is a city and a word of a Parisian pharmacy's name.
    assert sorted(await _names(client, q="lyon")) == [
        "Grande Pharmacie de la Gare de Lyon",
        "Pharmacie Bellecour Éléphant",
    ]
    assert await _names(client, postal_code="75011") == ["Pharmacie de la Bastille"]
    assert len(await _names(client, postal_code="75")) == 2
    assert await _names(client, q="75012") == ["Grande Pharmacie de la Gare de Lyon"]
    assert await _names(client, q="pharmacie", postal_code="69") == ["Pharmacie Bellecour Éléphant"]
    assert await _names(client, q="introuvable") == []
    bad = await client.get("/internal/pharmacies", params={"q": "'; --"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_query")


async def test_near_orders_by_distance_and_pages_with_a_cursor(
    client: httpx.AsyncClient,
) -> None:
    await _import(client, "r1", PHARMACIES)
    # Place de la Nation, Paris.
    first = await client.get("/internal/pharmacies", params={"near": "48.8483,2.3958", "limit": 2})
    page = first.json()
    assert [p["finess"] for p in page["items"]] == [GARE_DE_LYON, BASTILLE]
    # Nation - Diderot ~1.63 km, Nation - Bastille ~2.1 km
    assert 1500 < page["items"][0]["distance_m"] < 1800
    assert 1900 < page["items"][1]["distance_m"] < 2300
    second = await client.get(
        "/internal/pharmacies",
        params={"near": "48.8483,2.3958", "limit": 2, "cursor": page["next_cursor"]},
    )
    rest = second.json()
    assert [p["finess"] for p in rest["items"]] == [LYON_BELLECOUR, AJACCIO]
    assert 385_000 < rest["items"][0]["distance_m"] < 395_000
    assert rest["next_cursor"] is None
    nowhere = await client.get("/internal/pharmacies", params={"near": "91,0"})
    assert (nowhere.status_code, nowhere.json()["code"]) == (422, "invalid_near")
    forged = await client.get("/internal/pharmacies", params={"near": "1,1", "cursor": "abc"})
    assert (forged.status_code, forged.json()["code"]) == (422, "invalid_cursor")


async def test_a_newer_extract_closes_what_it_no_longer_lists(client: httpx.AsyncClient) -> None:
    await _import(client, "r1", PHARMACIES)
    assert (await client.post("/internal/pharmacies/imports/r1/close-absent")).json() == {
        "closed": 0
    }
    again = await _import(
        client, "r2", [PHARMACIES[1], PHARMACIES[2] | {"name": "Pharmacie X"}, PHARMACIES[3]]
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 2)
    closed = await client.post("/internal/pharmacies/imports/r2/close-absent")
    assert closed.json() == {"closed": 1}
    bastille = (await client.get(f"/internal/pharmacies/{BASTILLE}")).json()
    assert bastille["open"] is False
    assert "Pharmacie de la Bastille" not in await _names(client, q="pharmacie")
    # Listed again by a later extract: open again.
    await _import(client, "r3", PHARMACIES)
    assert (await client.get(f"/internal/pharmacies/{BASTILLE}")).json()["open"] is True


async def test_a_pharmacy_is_reachable_through_its_org_mailbox_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _import(client, "r1", PHARMACIES)
    none = await client.get(f"/internal/pharmacies/{BASTILLE}/recipient")
    assert (none.status_code, none.json()["code"]) == (409, "pharmacy_without_mailbox")
    mailbox = "bastille@pharmacie.mssante.fr"
    put = await client.put(
        f"/internal/mailboxes/{mailbox}",
        json={
            "type": "ORG",
            "display_name": "Pharmacie de la Bastille",
            "finess": BASTILLE,
            "pharmacy": True,
            "alert_email": "Alertes@Bastille.example",
        },
    )
    assert put.status_code == 201, put.text
    assert put.json()["alert_email"] == "Alertes@bastille.example"
    reach = await client.get(f"/internal/pharmacies/{BASTILLE}/recipient")
    assert reach.json() == {
        "finess": BASTILLE,
        "name": "Pharmacie de la Bastille",
        "mailbox": mailbox,
        "display_name": "Pharmacie de la Bastille",
    }
    found = (await client.get("/internal/pharmacies", params={"q": "bastille"})).json()
    assert found["items"][0]["can_write"] is True
    assert found["items"][0]["mailbox"] == mailbox
    unknown = await client.get(f"/internal/pharmacies/{finess('33010009')}/recipient")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "pharmacy_not_found")
    await _import(client, "r2", PHARMACIES[1:])
    await client.post("/internal/pharmacies/imports/r2/close-absent")
    closed = await client.get(f"/internal/pharmacies/{BASTILLE}/recipient")
    assert (closed.status_code, closed.json()["code"]) == (409, "pharmacy_closed")
    bad = await client.put(
        f"/internal/mailboxes/{mailbox}",
        json={"type": "ORG", "display_name": "X", "alert_email": "pas une adresse"},
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_alert_email")

    runtime = app.state.runtime
    for _ in range(100):
        if runtime.bus.is_connected:
            try:
                if (await runtime.bus.js.stream_info("MES_DIRECTORY")).state.messages >= 1:
                    break
            except Exception:  # the stream appears with the first publish
                pass
        await asyncio.sleep(0.05)
    sub = await runtime.bus.js.pull_subscribe("", stream="MES_DIRECTORY")
    msgs = await sub.fetch(1, timeout=2)
    await sub.unsubscribe()
    event = EventEnvelope.from_json_bytes(msgs[0].data).parse_payload()
    assert isinstance(event, MailboxRegistered)
    assert event.alert_email == "Alertes@bastille.example"


async def test_default_pharmacies_are_last_years_with_a_mailbox(client: httpx.AsyncClient) -> None:
    await _import(client, "r1", PHARMACIES)
    for f, name in ((BASTILLE, "bastille"), (LYON_BELLECOUR, "bellecour")):
        await client.put(
            f"/internal/mailboxes/{name}@pharmacie.mssante.fr",
            json={"type": "ORG", "display_name": name, "finess": f, "pharmacy": True},
        )
    today = date.today()
    put = await client.put(
        f"/internal/patients/{INS}/dispensations",
        json={
            "dispensations": [
                {"finess": BASTILLE, "date": str(today - timedelta(days=40))},
                {"finess": BASTILLE, "date": str(today - timedelta(days=3))},
                {"finess": GARE_DE_LYON, "date": str(today - timedelta(days=1))},  # no mailbox
                {"finess": LYON_BELLECOUR, "date": str(today - timedelta(days=400))},  # too old
            ]
        },
    )
    assert put.status_code == 200, put.text
    defaults = (await client.get(f"/internal/patients/{INS}/default-pharmacies")).json()
    assert [(d["pharmacy"]["finess"], d["last_dispensed_on"]) for d in defaults["items"]] == [
        (BASTILLE, str(today - timedelta(days=3)))
    ]
    wrong = await client.put(
        f"/internal/patients/{INS}/dispensations",
        json={"dispensations": [{"finess": BASTILLE[:8] + "x", "date": str(today)}]},
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_finess")
    future = await client.put(
        f"/internal/patients/{INS}/dispensations",
        json={"dispensations": [{"finess": BASTILLE, "date": str(today + timedelta(days=2))}]},
    )
    assert (future.status_code, future.json()["code"]) == (422, "invalid_dispensation")
    bad_ins = await client.get("/internal/patients/185077512345600/default-pharmacies")
    assert (bad_ins.status_code, bad_ins.json()["code"]) == (422, "invalid_ins")


async def test_rate_counters_refuse_over_the_limit_and_count_nothing_refused(
    client: httpx.AsyncClient,
) -> None:
    rules = [
        {"key": "patient:1", "limit": 3, "window_seconds": 3600},
        {"key": "pharmacy:1", "limit": 2, "window_seconds": 3600},
    ]
    answers = await asyncio.gather(
        *(client.post("/internal/rate-limits/consume", json={"rules": rules}) for _ in range(4))
    )
    decisions = [a.json() for a in answers]
    assert sum(d["allowed"] for d in decisions) == 2
    refused = [d for d in decisions if not d["allowed"]]
    assert all(d["refused_key"] == "pharmacy:1" for d in refused)
    assert all(0 < d["retry_after_seconds"] <= 3600 for d in refused)
    # The refused attempts did not count against the patient: one more is allowed elsewhere.
    other = [rules[0], {"key": "pharmacy:2", "limit": 2, "window_seconds": 3600}]
    ok = await client.post("/internal/rate-limits/consume", json={"rules": other})
    assert ok.json()["allowed"] is True
    over = await client.post("/internal/rate-limits/consume", json={"rules": other})
    assert over.json() | {"retry_after_seconds": 0} == {
        "allowed": False,
        "retry_after_seconds": 0,
        "refused_key": "patient:1",
    }


async def _all_pages(client: httpx.AsyncClient, **params: Any) -> list[str]:
    finesses: list[str] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/internal/pharmacies", params=query)).json()
        finesses += [p["finess"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return finesses


async def test_word_searches_find_every_match_once_in_name_order_whichever_word_is_rarest(
    client: httpx.AsyncClient,
) -> None:
    streets = ("rue de la Gare", "avenue de la Garenne", "place du Marché", "cours Gambetta")
    cities = [("PARIS", "75011", 48.85, 2.35), ("LYON", "69002", 45.76, 4.83)]
    batch = [
        {
            "finess": finess(f"750{n:05d}"),
            "name": f"Pharmacie {('Centrale', 'du Parc', 'Gare')[n % 3]} {n}",
            "address_line": f"{n} {streets[n % 4]}",
            "postal_code": cities[n % 2][1],
            "city": cities[n % 2][0],
            "lat": cities[n % 2][2] + n / 10_000,
            "lon": cities[n % 2][3],
        }
        for n in range(60)
    ]
    await _import(client, "r1", batch)
    await client.post("/internal/pharmacies/imports/r1/close-absent")
    # Imported after the words were counted: a word the counts do not know yet.
    late = [p | {"name": f"Pharmacie Gargantua {i}"} for i, p in enumerate(batch[:5])]
    await _import(client, "r2", late)
    pharmacies = {p["finess"]: p for p in [*late, *batch[5:]]}

    def expected(*prefixes: str, city: str | None = None) -> list[str]:
        def words(p: dict[str, Any]) -> list[str]:
            text = f"{p['name']} {p['address_line']} {p['postal_code']} {p['city']}"
            return text.lower().replace("é", "e").split()

        found = [
            p
            for p in pharmacies.values()
            if all(any(w.startswith(x) for w in words(p)) for x in prefixes)
            and (city is None or p["city"] == city)
        ]
        key = [(p["name"].lower(), p["finess"]) for p in found]
        return [finess for _, finess in sorted(key)]

    for q, city in [("gar paris", None), ("gare lyon", None), ("garg", None), ("gar", "LYON")]:
        postal = {"postal_code": "69002"} if city else {}
        got = await _all_pages(client, q=q, limit=3, **postal)
        assert got == expected(*q.split(), city=city), q
        assert len(got) == len(set(got))
    assert await _all_pages(client, q="gare introuvable") == []
    # Near a point, among the pharmacies that match the words only.
    near = await _all_pages(client, q="garenne lyon", near="45.76,4.83", limit=4)
    assert sorted(near) == sorted(expected("garenne", "lyon"))
    assert near[0] == finess("75000001")


async def test_a_word_search_is_one_statement_whatever_its_words(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Each statement is a round trip to PostgreSQL: a search of several words, with a postal
    # code and a cursor, answers in one, whichever word turns out the rarest.
    await _import(client, "r1", PHARMACIES)
    await client.post("/internal/pharmacies/imports/r1/close-absent")
    statements: list[str] = []

    def executed(*args: Any) -> None:
        if "pharmac" in args[2]:  # not the outbox relay's polls (one engine on PostgreSQL)
            statements.append(args[2])

    engine = app.state.runtime.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", executed)
    try:
        words = {"q": "pari 75", "limit": 1}
        page = (await client.get("/internal/pharmacies", params=words)).json()
        assert [p["name"] for p in page["items"]] == ["Grande Pharmacie de la Gare de Lyon"]
        assert len(statements) == 1
        rest = await client.get(
            "/internal/pharmacies",
            params=words | {"postal_code": "75", "cursor": page["next_cursor"]},
        )
        assert [p["name"] for p in rest.json()["items"]] == ["Pharmacie de la Bastille"]
        assert len(statements) == 2
        assert await _names(client, q="gare lyon", near="48.84,2.37") == [
            "Grande Pharmacie de la Gare de Lyon"
        ]
    finally:
        event.remove(engine, "before_cursor_execute", executed)
