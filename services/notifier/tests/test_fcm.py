"""Pushes through Firebase Cloud Messaging HTTP v1, against a local server playing FCM."""

from __future__ import annotations

import pytest

from mes_notifier.adapters.fcm import FcmPush
from mes_notifier.domain.errors import TokenUnregistered

from .fake_fcm import FakeFcm

TOKEN = "fcm-registration-token-0123456789"


async def register(service, kit, token=TOKEN):
    answer = await service.client.post(
        f"/internal/patients/{kit.INS}/devices", json={"platform": "android", "token": token}
    )
    assert answer.status_code in (200, 201), answer.text
    return answer


@pytest.fixture
async def fcm():
    server = FakeFcm()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_the_fcm_adapter_signs_in_sends_and_reports_unregistered_tokens(fcm, tmp_path):
    push = FcmPush(fcm.project, fcm.credentials(tmp_path), endpoint=fcm.url)
    try:
        await push.push(TOKEN, "Nouveau message", "Un message vous attend.", {"type": "x"})
        await push.push(TOKEN, "Nouveau message", "Un message vous attend.", {"type": "x"})
        assert fcm.tokens_issued == 1  # the access token is reused until it expires
        assert [m["token"] for m in fcm.sent] == [TOKEN, TOKEN]
        assert fcm.sent[0]["notification"]["title"] == "Nouveau message"
        fcm.unregistered.add("gone-token-000000")
        with pytest.raises(TokenUnregistered):
            await push.push("gone-token-000000", "t", "b", {})
    finally:
        await push.close()


@pytest.fixture
async def fcm_settings(fcm, tmp_path):
    return {
        "push_provider": "fcm",
        "fcm_project_id": fcm.project,
        "fcm_credentials_file": fcm.credentials(tmp_path),
        "fcm_endpoint": fcm.url,
    }


@pytest.fixture
def settings_overrides(fcm_settings):
    return fcm_settings


async def test_through_fcm_an_unregistered_device_is_removed(
    service, smtp_sink, publisher, kit, fcm
):
    await register(service, kit, token="still-here-0000")
    await register(service, kit, token="uninstalled-0000")
    fcm.unregistered.add("uninstalled-0000")
    await publisher(kit.profile(activated=True, app=True))
    await kit.eventually(lambda: True)
    await publisher(kit.accepted())

    async def settled():
        items = await service.client.get("/internal/notifications", params={"channel": "push"})
        pushes = [i for i in items.json()["items"] if i["channel"] == "push"]
        return len(pushes) == 2 and {p["state"] for p in pushes} == {"sent", "failed"}

    await kit.eventually(settled)
    assert [m["token"] for m in fcm.sent] == ["still-here-0000"]
    again = await register(service, kit, token="uninstalled-0000")
    assert again.status_code == 201  # it was removed, so it registers anew
