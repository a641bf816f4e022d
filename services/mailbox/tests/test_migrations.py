"""Data stored before health actors' addresses had one spelling is found under it after the
upgrade, on both engines."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.engine import Connection

from mes_contracts.events.conversation import MessageAccepted
from mes_mailbox.adapters.repository import SqlAttachmentRepository, SqlMessageRepository
from mes_mailbox.adapters.tables import mailboxes
from mes_mailbox.domain.attachments import StoredAttachment
from mes_mailbox.domain.messages import copies_for_accepted
from mes_platform.db import Database

MIXED = "Dr.Martin@hopital-exemple.mssante.fr"
OTHER_MIXED = "DR.MARTIN@hopital-exemple.mssante.fr"
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", "mes_mailbox:migrations")
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _as_stored_before(kit: Any, message_id: str, sender: str, **changes: Any) -> list[Any]:
    """The copies of a message as they were stored when the sender's spelling was kept."""
    event = kit.accepted(message_id=message_id, **changes).payload_as(MessageAccepted)
    sent, inbox = copies_for_accepted(event, NOW)
    return [
        dataclasses.replace(sent, mailbox_address=sender, sender_address=sender),
        dataclasses.replace(inbox, sender_address=sender),
    ]


@pytest.fixture
async def service_database_url(database_url: str, kit: Any) -> str:
    """A database at the first revision holding copies under three spellings of one mailbox."""
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(_upgrade_to, "0001")
            messages = SqlMessageRepository(conn)
            await messages.add_copies(_as_stored_before(kit, "m1", MIXED), NOW)
            await messages.add_copies(_as_stored_before(kit, "m2", OTHER_MIXED), NOW)
            # The same message under two spellings: the lower-case copy is the one kept.
            both = _as_stored_before(kit, "m3", MIXED, subject="ancienne")
            await messages.add_copies(both[:1], NOW)
            await messages.add_copies(_as_stored_before(kit, "m3", kit.DOCTOR), NOW)
            await SqlAttachmentRepository(conn).add(
                StoredAttachment(
                    id="a1",
                    sha256=hashlib.sha256(b"x").hexdigest(),
                    size=1,
                    content_type="application/pdf",
                    filename="ordonnance.pdf",
                    uploaded_by=MIXED,
                    created_at=NOW,
                )
            )
    finally:
        await db.dispose()
    return database_url


async def test_copies_stored_under_another_spelling_are_listed_under_the_one(service, kit):
    sent = (await service.listing(kit.DOCTOR, folder="sent")).json()["items"]
    assert sorted((i["id"], i["subject"]) for i in sent) == [
        ("m1", "Résultats d'analyses"),
        ("m2", "Résultats d'analyses"),
        ("m3", "Résultats d'analyses"),
    ]
    assert {i["sender"]["address"] for i in sent} == {kit.DOCTOR}
    (inbox,) = [i for i in (await service.listing(kit.PATIENT)).json()["items"] if i["id"] == "m1"]
    assert inbox["sender"]["address"] == kit.DOCTOR
    r = await service.client.post(
        "/internal/attachments/resolve", json={"owner": kit.DOCTOR, "ids": ["a1"]}
    )
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == ["a1"]
    async with service.app.state.runtime.db.reading() as conn:
        held = (await conn.execute(select(mailboxes.c.address))).scalars().all()
    assert kit.DOCTOR in held and MIXED not in held and OTHER_MIXED not in held
