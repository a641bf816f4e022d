"""What happens when the relay is down or refuses, and how new messages are grouped."""

from __future__ import annotations

import pytest

from mes_notifier.adapters.repository import SqlNotifierRepository


@pytest.fixture
def service_database_url(database_url):
    """Every test here on SQLite and on PostgreSQL."""
    return database_url


async def _records(service, **params):
    answer = await service.client.get("/internal/notifications", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def _failed_count(service) -> float:
    """The permanent failures counted in /metrics (one registry per process)."""
    metrics = (await service.client.get("/metrics")).text
    line = 'mes_notifications_total{kind="patient_new_message",state="failed"} '
    values = [float(x[len(line) :]) for x in metrics.splitlines() if x.startswith(line)]
    return values[0] if values else 0.0


async def test_with_the_relay_down_emails_wait_and_all_arrive_once_it_is_back(
    service, smtp_sink, publisher, kit
):
    await publisher(kit.profile())
    smtp_sink.stop()
    events = [kit.accepted() for _ in range(5)]
    await publisher(*events)

    async def retrying():
        return len(await _records(service, state="retrying")) == 5

    await kit.eventually(retrying)
    smtp_sink.start()
    await kit.eventually(lambda: len(smtp_sink.to(kit.PATIENT_EMAIL)) == 5, within=15)

    async def all_sent():
        return len(await _records(service, state="sent")) == 5

    await kit.eventually(all_sent)
    records = await _records(service, recipient=kit.INS)
    assert {r["state"] for r in records} == {"sent"}
    assert all(r["attempts"] >= 2 for r in records)
    ids = [m.message["Message-ID"] for m in smtp_sink.to(kit.PATIENT_EMAIL)]
    assert len(set(ids)) == 5


async def test_a_refused_recipient_is_recorded_failed_and_counted(
    service, smtp_sink, publisher, kit
):
    smtp_sink.refuse["refuse@example.org"] = 550
    before = await _failed_count(service)
    await publisher(kit.profile(email_address="refuse@example.org"), kit.accepted())

    async def failed():
        return await _records(service, state="failed")

    await kit.eventually(failed)
    [record] = await _records(service, state="failed")
    assert record["attempts"] == 1 and "550" in record["last_error"]
    assert await _failed_count(service) == before + 1


async def test_a_temporary_refusal_is_retried(service, smtp_sink, publisher, kit):
    smtp_sink.refuse[kit.PATIENT_EMAIL] = 451
    await publisher(kit.profile(), kit.accepted())

    async def retrying():
        return await _records(service, state="retrying")

    await kit.eventually(retrying)
    del smtp_sink.refuse[kit.PATIENT_EMAIL]
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))


@pytest.mark.parametrize("settings_overrides", [{"group_window_seconds": 1.0}])
async def test_messages_within_the_window_go_in_one_email_never_one_per_message_twice(
    service, smtp_sink, publisher, kit
):
    await publisher(kit.profile())
    await publisher(kit.accepted())
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))
    await publisher(*[kit.accepted() for _ in range(3)])
    await kit.eventually(lambda: len(smtp_sink.to(kit.PATIENT_EMAIL)) == 2)
    _first, second = smtp_sink.to(kit.PATIENT_EMAIL)
    assert "3 nouveaux messages" in second.message["Subject"]

    async def all_sent():
        return len(await _records(service, state="sent")) == 4

    await kit.eventually(all_sent)
    records = await _records(service, recipient=kit.PATIENT_EMAIL)
    assert len(records) == 4 and {r["state"] for r in records} == {"sent"}


@pytest.mark.parametrize("settings_overrides", [{"group_window_seconds": 30.0}])
async def test_inside_the_window_a_message_is_queued_waiting_never_claimed_at_intake(
    service, smtp_sink, publisher, kit, monkeypatch
):
    """The intake reads the patient's window before it writes: a message inside it is queued
    for the window's end, not claimed by the intake and then put back."""
    claimed_by_intake: list[str] = []
    add_claimed = SqlNotifierRepository.add_claimed

    async def spied(self, items, lease_until):
        claimed_by_intake.extend(n.trigger_event_id for n in items)
        return await add_claimed(self, items, lease_until)

    monkeypatch.setattr(SqlNotifierRepository, "add_claimed", spied)
    await publisher(kit.profile())
    first = kit.accepted()
    await publisher(first)
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))

    async def window_open():
        return len(await _records(service, state="sent")) == 1

    await kit.eventually(window_open)
    inside = [kit.accepted() for _ in range(3)]
    await publisher(*inside)

    async def all_queued():
        return len(await _records(service, state="queued")) == 3

    await kit.eventually(all_queued)
    assert claimed_by_intake == [first.id]  # the first opened the window; none after it
    assert len(smtp_sink.to(kit.PATIENT_EMAIL)) == 1


@pytest.mark.parametrize("settings_overrides", [{"lease_seconds": 1.0}])
async def test_what_a_dead_sender_had_claimed_is_taken_over(service, smtp_sink, publisher, kit):
    """Rows claimed by a sender that died stay claimed until the lease ends, then go."""
    sender = service.app.state.sender
    await sender.stop()  # as if the process died holding nothing in flight
    await publisher(kit.profile(), kit.accepted())

    async def queued():
        return await _records(service, state="queued")

    await kit.eventually(queued)
    claimed = await sender.claim_once()  # claims, then "dies" before sending
    assert claimed == 1
    sender.start()  # a new sender: what the dead one held waits for its lease to end
    await kit.eventually(lambda: True)
    assert smtp_sink.to(kit.PATIENT_EMAIL) == []
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL), within=10)
    assert len(smtp_sink.to(kit.PATIENT_EMAIL)) == 1
