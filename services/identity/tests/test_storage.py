"""Identity storage on both engines: migrations at start, the profile repository."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mes_contracts.events.identity import PatientCreated, PatientState
from mes_dev.testing import NatsServer
from mes_identity.adapters.uow import IdentityUnitOfWork
from mes_identity.domain.model import PatientProfile
from mes_identity.settings import IdentitySettings
from mes_platform.db import Database
from mes_platform.migrations import upgrade_to_head
from mes_platform.tables import outbox

MIGRATIONS = "mes_identity:migrations"


def _profile(ins: str, **changes: Any) -> PatientProfile:
    profile = PatientProfile(
        ins=ins,
        state=PatientState.CREATED,
        birth_name="DUPONT",
        first_names="Marie Louise",
        display_name="Marie Dupont",
        email=None,
        app_installed=False,
    )
    return profile.evolve(**changes)


async def test_migrations_apply_at_start_and_again_on_a_second_start(
    database_url: str, tmp_path: Path, nats_server: NatsServer, start_identity: Any, ins: Any
) -> None:
    settings = IdentitySettings(
        data_dir=tmp_path, nats_url=nats_server.url, database_url=database_url
    )
    async with start_identity(settings) as first:
        assert (await first.put(1)).status_code == 201
    async with start_identity(settings) as second:
        response = await second.http.get(f"/internal/patients/{ins(1)}")
        assert response.status_code == 200, response.text
        assert (await second.put(2)).status_code == 201


async def test_the_repository_round_trips_a_profile(database_url: str, ins: Any) -> None:
    db = Database(database_url)
    try:
        await upgrade_to_head(db, MIGRATIONS)
        await upgrade_to_head(db, MIGRATIONS)  # a second start changes nothing
        profile = _profile(ins(1), email="marie@example.org")
        async with IdentityUnitOfWork(db, "identity") as uow:
            assert await uow.patients.get(profile.ins) is None
            await uow.patients.add(profile)
            await uow.commit()
        async with IdentityUnitOfWork(db, "identity") as uow:
            assert await uow.patients.get(profile.ins) == profile
            closed = profile.evolve(
                state=PatientState.CLOSED, app_installed=True, display_name="M. Dupont"
            )
            await uow.patients.save(closed)
            await uow.commit()
        async with IdentityUnitOfWork(db, "identity") as uow:
            assert await uow.patients.get(profile.ins) == closed
            assert await uow.patients.get(ins(2)) is None
    finally:
        await db.dispose()


async def test_a_profile_and_its_event_are_committed_or_dropped_together(
    database_url: str, ins: Any
) -> None:
    db = Database(database_url)
    try:
        await upgrade_to_head(db, MIGRATIONS)
        async with IdentityUnitOfWork(db, "identity") as uow:
            await uow.patients.add(_profile(ins(1)))
            uow.emit(
                PatientCreated(
                    ins=ins(1),
                    state=PatientState.CREATED,
                    previous_state=None,
                    birth_name="DUPONT",
                    first_names="Marie",
                    display_name="Marie Dupont",
                    email=None,
                    app_installed=False,
                )
            )
            # leaves without commit: as if the request failed
        async with db.reading() as conn:
            assert (await conn.execute(select(func.count()).select_from(outbox))).scalar() == 0
        async with IdentityUnitOfWork(db, "identity") as uow:
            assert await uow.patients.get(ins(1)) is None
    finally:
        await db.dispose()


async def test_concurrent_creations_of_one_profile_make_one_profile_and_one_event(
    database_url: str,
    tmp_path: Path,
    nats_server: NatsServer,
    start_identity: Any,
    stream_reader: Any,
    ins: Any,
) -> None:
    settings = IdentitySettings(
        data_dir=tmp_path, nats_url=nats_server.url, database_url=database_url
    )
    async with start_identity(settings) as service:
        responses = await asyncio.gather(*(service.put(1) for _ in range(8)))
        assert sorted(r.status_code for r in responses) == [200] * 7 + [201]

        async def outbox_empty() -> bool:
            return bool(await service.pending_events() == 0)

        envelopes = await stream_reader(nats_server.url, settle=outbox_empty)
    assert [e.type for e in envelopes] == [PatientCreated.SUBJECT]


async def test_concurrent_changes_of_one_profile_are_told_in_order(
    database_url: str,
    tmp_path: Path,
    nats_server: NatsServer,
    start_identity: Any,
    stream_reader: Any,
    ins: Any,
) -> None:
    settings = IdentitySettings(
        data_dir=tmp_path, nats_url=nats_server.url, database_url=database_url
    )
    async with start_identity(settings) as service:
        await service.put(1)
        states = ["activated", "opposed", "closed", "created"] * 3
        responses = await asyncio.gather(*(service.put(1, state) for state in states))
        assert {r.status_code for r in responses} == {200}

        async def outbox_empty() -> bool:
            return bool(await service.pending_events() == 0)

        envelopes = await stream_reader(nats_server.url, settle=outbox_empty)
        final = (await service.http.get(f"/internal/patients/{ins(1)}")).json()["state"]
    # Each event starts from the state the previous one ended in: no change was lost.
    chain = [(e.payload["previous_state"], e.payload["state"]) for e in envelopes]
    for (_, before), (after_previous, _) in itertools.pairwise(chain):
        assert after_previous == before, chain
    assert chain[-1][1] == final


async def test_a_resolution_racing_a_change_is_not_kept_after_it(
    database_url: str, tmp_path: Path, nats_server: NatsServer, start_identity: Any, ins: Any
) -> None:
    # A short cache so that resolutions read the database, as they do after each expiry.
    settings = IdentitySettings(
        data_dir=tmp_path,
        nats_url=nats_server.url,
        database_url=database_url,
        resolution_cache_seconds=0.05,
    )
    address = f"{ins(1)}@patient.mssante.fr"
    async with start_identity(settings) as service:
        await service.put(1, "activated")
        for state in ["closed", "activated"] * 6:
            await asyncio.sleep(0.06)
            readers = [asyncio.create_task(service.resolve(address)) for _ in range(10)]
            await asyncio.sleep(0.001)  # the readers are reading when the change commits
            await service.put(1, state)
            await asyncio.gather(*readers)
            expected = "closed" if state == "closed" else "deliverable"
            assert (await service.resolve(address))["status"] == expected


async def test_names_at_the_limit_are_stored_and_longer_ones_refused_on_both_engines(
    database_url: str, tmp_path: Path, nats_server: NatsServer, start_identity: Any, ins: Any
) -> None:
    """PostgreSQL enforces the column lengths SQLite ignores: what the API accepts must fit,
    and what would not fit is refused before it reaches the database."""
    settings = IdentitySettings(
        data_dir=tmp_path, nats_url=nats_server.url, database_url=database_url
    )
    async with start_identity(settings) as service:
        longest = await service.put(
            1, birth_name="B" * 200, first_names="F" * 200, display_name="D" * 200
        )
        assert longest.status_code == 201, longest.text
        assert len(longest.json()["display_name"]) == 200
        # Without a display name, the first first name and the birth name: 401 characters.
        unnamed = await service.put(2, birth_name="B" * 200, first_names="F" * 200)
        # "ß" title-cases to "Ss": a birth name of 199 characters makes a name of 301.
        title_cased = await service.put(3, birth_name=" ".join(["ß"] * 100), first_names="A")
        for response in (unnamed, title_cased):
            assert response.status_code == 422, response.text
            problem = response.json()
            assert (problem["code"], problem["field"]) == ("name_too_long", "display_name")
        nul = await service.put(4, first_names="A\u0000B")  # PostgreSQL cannot store a NUL
        assert (nul.status_code, nul.json()["code"]) == (422, "invalid_name")
        for n in (2, 3, 4):
            assert (await service.http.get(f"/internal/patients/{ins(n)}")).status_code == 404
        fitting = await service.put(5, birth_name=" ".join(["ß"] * 66), first_names="A")
        assert fitting.status_code == 201, fitting.text
        assert fitting.json()["display_name"] == "A " + " ".join(["Ss"] * 66)  # 199
