"""Many notifications at once, as under the senders' full load: the consumer handles the
events that arrived together in one transaction and the sender records together the e-mails
whose relay answered at the same time; each patient still gets exactly one e-mail, recorded
sent to that patient's own address."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import event, func, select

from mes_contracts.ins import ins_key
from mes_notifier.adapters.tables import patient_contacts

PATIENTS = 40


@pytest.fixture
def service_database_url(database_url):
    """Every test here on SQLite and on PostgreSQL."""
    return database_url


def _ins(n: int) -> str:
    nir = f"2790351{n:06d}"
    return nir + ins_key(nir)


def _email(n: int) -> str:
    return f"patient.{n}@example.org"


async def _sent_records(service) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        params = {"state": "sent", "limit": 50, **({"cursor": cursor} if cursor else {})}
        answer = await service.client.get("/internal/notifications", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def test_forty_patients_at_once_each_get_one_email_to_their_own_address(
    service, smtp_sink, publisher, kit
):
    await publisher(
        *(
            kit.profile(ins=_ins(n), email_address=_email(n), activated=n % 2 == 0, app=True)
            for n in range(PATIENTS)
        )
    )
    await asyncio.sleep(0.3)  # the profiles first, mostly: the rest goes the late path
    await publisher(
        *(
            kit.accepted(recipient=f"{_ins(n)}@patient.mssante.fr", message_id=f"msg-{n}")
            for n in range(PATIENTS)
        )
    )
    await kit.eventually(lambda: len(smtp_sink.received) >= PATIENTS, within=20)

    per_address = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
    assert per_address == Counter({_email(n): 1 for n in range(PATIENTS)})
    assert len({mail.message["Message-ID"] for mail in smtp_sink.received}) == PATIENTS

    async def all_recorded():
        return len(await _sent_records(service)) == PATIENTS

    await kit.eventually(all_recorded)
    records = {r["target"]: r for r in await _sent_records(service)}
    for n in range(PATIENTS):
        record = records[_ins(n)]
        assert record["recipient"] == _email(n) and record["attempts"] == 1

    # The app's notification centre: an entry for the activated patients with the app only.
    for n in range(PATIENTS):
        page = (await service.client.get(f"/internal/patients/{_ins(n)}/notifications")).json()
        assert len(page["items"]) == (1 if n % 2 == 0 else 0), n
        if n % 2 == 0:
            assert page["items"][0]["message_id"] == f"msg-{n}"


async def test_emails_the_relay_accepted_together_share_their_commits(
    service, smtp_sink, publisher, kit
):
    """What keeps the notifier up with the senders: the work of many e-mails shares a few
    transactions (intake and claim together, then "sent"), instead of a few per e-mail."""
    engine = service.app.state.runtime.db.engine
    await publisher(*(kit.profile(ins=_ins(n), email_address=_email(n)) for n in range(PATIENTS)))

    async def profiles_known():
        async with engine.connect() as conn:
            count = await conn.execute(select(func.count()).select_from(patient_contacts))
            return count.scalar_one() == PATIENTS

    await kit.eventually(profiles_known)
    commits = 0

    def counted(conn: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(engine.sync_engine, "commit", counted)
    try:
        # at once, as the conversation service's relay publishes under load
        await asyncio.gather(
            *(
                publisher(kit.accepted(recipient=f"{_ins(n)}@patient.mssante.fr"))
                for n in range(PATIENTS)
            )
        )

        async def all_recorded():
            return len(await _sent_records(service)) == PATIENTS

        await kit.eventually(all_recorded, within=20)
    finally:
        event.remove(engine.sync_engine, "commit", counted)
    assert len(smtp_sink.received) == PATIENTS
    # one commit per e-mail for its "sent" mark alone would be 40; together, about a dozen
    assert commits < PATIENTS


@pytest.mark.parametrize("settings_overrides", [{"smtp_connections": 1, "sender_batch_size": 4}])
async def test_with_the_lanes_full_the_rest_waits_in_the_queue_and_each_goes_once(
    service, smtp_sink, publisher, kit
):
    """New notifications go to the lanes as their events are handled while the lanes have
    room; the others wait in the queue for the dispatcher, and every patient still gets one
    e-mail."""
    await publisher(*(kit.profile(ins=_ins(n), email_address=_email(n)) for n in range(PATIENTS)))
    await asyncio.gather(
        *(
            publisher(kit.accepted(recipient=f"{_ins(n)}@patient.mssante.fr"))
            for n in range(PATIENTS)
        )
    )

    async def all_recorded():
        return len(await _sent_records(service)) == PATIENTS

    await kit.eventually(all_recorded, within=30)
    per_address = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
    assert per_address == Counter({_email(n): 1 for n in range(PATIENTS)})
