"""The app's notification centre, devices and pushes: through the internal API, the log
provider of development, and the FCM HTTP v1 adapter against a local server playing FCM."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

TOKEN = "fcm-registration-token-0123456789"


@pytest.fixture
def service_database_url(database_url):
    """Every test here on SQLite and on PostgreSQL."""
    return database_url


async def _register(service, kit, token=TOKEN):
    answer = await service.client.post(
        f"/internal/patients/{kit.INS}/devices", json={"platform": "android", "token": token}
    )
    assert answer.status_code in (200, 201), answer.text
    return answer


async def test_an_activated_patient_with_the_app_gets_an_entry_and_a_push(
    service, smtp_sink, publisher, kit
):
    device = (await _register(service, kit)).json()
    assert (await _register(service, kit)).status_code == 200  # the same token again
    await publisher(kit.profile(activated=True, app=True))
    await kit.eventually(lambda: True)
    await publisher(kit.accepted(message_id="msg-1"))
    pushes = Path(service.settings.push_log_file)
    await kit.eventually(lambda: pushes.exists() and pushes.read_text().strip())
    lines = await asyncio.to_thread(pushes.read_text)
    [push] = [json.loads(line) for line in lines.splitlines()]
    assert push["token"] == TOKEN
    assert push["notification"]["title"] == "Nouveau message"
    assert not any(secret in json.dumps(push, ensure_ascii=False) for secret in kit.SECRETS)
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))  # the e-mail goes as well

    page = (await service.client.get(f"/internal/patients/{kit.INS}/notifications")).json()
    assert page["unseen"] == 1 and page["next_cursor"] is None
    [entry] = page["items"]
    assert entry["message_id"] == "msg-1" and entry["seen_at"] is None
    seen = await service.client.post(
        f"/internal/patients/{kit.INS}/notifications/{entry['id']}/seen"
    )
    assert seen.status_code == 200 and seen.json()["seen_at"] is not None
    page = (await service.client.get(f"/internal/patients/{kit.INS}/notifications")).json()
    assert page["unseen"] == 0

    removed = await service.client.delete(f"/internal/patients/{kit.INS}/devices/{device['id']}")
    assert removed.status_code == 204
    again = await service.client.delete(f"/internal/patients/{kit.INS}/devices/{device['id']}")
    assert again.status_code == 404 and again.json()["code"] == "device_not_found"


async def test_a_profile_not_activated_gets_the_email_only(service, smtp_sink, publisher, kit):
    await _register(service, kit)
    await publisher(kit.profile(activated=False, app=True))
    await kit.eventually(lambda: True)
    await publisher(kit.accepted())
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))
    page = (await service.client.get(f"/internal/patients/{kit.INS}/notifications")).json()
    assert page == {"items": [], "next_cursor": None, "unseen": 0}
    assert not await asyncio.to_thread(Path(service.settings.push_log_file).exists)


async def test_the_centre_pages_newest_first_and_refuses_a_forged_cursor(service, publisher, kit):
    await publisher(kit.profile(activated=True, app=True))
    await kit.eventually(lambda: True)
    await publisher(*[kit.accepted(message_id=f"msg-{i}") for i in range(5)])

    async def five():
        page = await service.client.get(f"/internal/patients/{kit.INS}/notifications")
        return page.json()["unseen"] == 5

    await kit.eventually(five)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await service.client.get(f"/internal/patients/{kit.INS}/notifications", params=params)
        ).json()
        seen += [e["message_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"msg-{i}" for i in range(5)] and len(seen) == 5
    bad = await service.client.get(
        f"/internal/patients/{kit.INS}/notifications", params={"cursor": "forged"}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
    bad_ins = await service.client.get("/internal/patients/123/notifications")
    assert bad_ins.status_code == 422


async def test_a_message_before_the_profile_still_reaches_the_app(
    service, smtp_sink, publisher, kit
):
    await _register(service, kit)
    await publisher(kit.accepted(message_id="msg-early"))
    await asyncio.sleep(0.3)  # handled while no profile is known
    await publisher(kit.profile(activated=True, app=True))
    await kit.eventually(lambda: smtp_sink.to(kit.PATIENT_EMAIL))

    async def entry():
        page = await service.client.get(f"/internal/patients/{kit.INS}/notifications")
        return page.json()["items"]

    await kit.eventually(entry)
    assert [e["message_id"] for e in await entry()] == ["msg-early"]
    pushes = Path(service.settings.push_log_file)
    await kit.eventually(lambda: pushes.exists() and pushes.read_text().strip())
