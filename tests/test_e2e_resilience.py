"""Restarting NATS or a service in the middle of a flow delays work, never loses or
duplicates it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Api, eventually
from .stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(Path(tmp_path_factory.mktemp("resilience")))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _send_many(api: Api, token: str, sender: str, to: str, n: int, accepted: list[str]) -> None:
    for i in range(n):
        for _attempt in range(100):
            try:
                r = api.send(
                    token,
                    idempotency_key=f"k-{sender}-{i}",
                    **{"from": sender, "to": to, "subject": f"Message {i}", "body": "x"},
                )
            except httpx.TransportError:
                # The gateway itself was killed, perhaps after admitting this message and
                # before answering: the same key must not send it a second time.
                time.sleep(0.2)
                continue
            if r.status_code == 202:
                accepted.append(r.json()["message_id"])
                break
            time.sleep(0.2)  # 503 while a dependency restarts: retry with the same key
        time.sleep(0.01)


@pytest.mark.parametrize(
    "victim", ["nats", "mailbox", "mailbox-delivery", "conversation", "identity", "gateway"]
)
def test_restart_in_the_middle_loses_and_duplicates_nothing(own_stack: Stack, victim: str) -> None:
    api = Api(own_stack.url)
    patient, patient_token = api.patient()
    sender = f"pro.{uuid.uuid4().hex[:8]}@hopital-test.mssante.fr"
    token = api.mailbox(sender, "PER", "Dr Restart")
    accepted: list[str] = []
    writer = threading.Thread(target=_send_many, args=(api, token, sender, patient, 60, accepted))
    writer.start()
    time.sleep(0.4)
    if victim == "nats":
        own_stack.nats.kill()
        time.sleep(1.0)
        own_stack.nats.start()
    else:
        own_stack.restart_service(victim)
    writer.join(120)
    own_stack.wait_ready()
    assert len(accepted) == 60 and len(set(accepted)) == 60

    def inbox_ids() -> list[str] | None:
        convs = api.my_conversations(patient_token)
        ids: list[str] = []
        for c in convs:
            cursor = None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = api.http.get(
                    f"/v1/me/conversations/{c['id']}/messages",
                    headers=api.as_(patient_token),
                    params=params,
                ).json()
                ids += [m["id"] for m in page["items"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        return ids if len(set(ids)) >= 60 else None

    ids = eventually(inbox_ids, timeout=60, interval=0.5)
    assert sorted(ids) == sorted(accepted), "every accepted message delivered exactly once"


def _reply_many(api: Api, token: str, conversation_id: str, n: int, accepted: list[str]) -> None:
    for i in range(n):
        for _attempt in range(100):
            try:
                r = api.http.post(
                    f"/v1/me/conversations/{conversation_id}/messages",
                    headers={**api.as_(token), "Idempotency-Key": f"r-{conversation_id}-{i}"},
                    json={"body": f"Réponse {i}"},
                )
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if r.status_code in (201, 202):
                accepted.append(r.json()["message_id"])
                break
            time.sleep(0.2)
        time.sleep(0.01)


@pytest.mark.parametrize("victim", ["conversation", "mailbox", "mailbox-delivery", "nats"])
def test_patient_replies_across_a_restart_reach_the_professional_once(
    own_stack: Stack, victim: str
) -> None:
    api = Api(own_stack.url)
    patient, patient_token = api.patient()
    sender = f"pro.{uuid.uuid4().hex[:8]}@hopital-test.mssante.fr"
    token = api.mailbox(sender, "PER", "Dr Replies")
    first = api.send(token, **{"from": sender, "to": patient, "subject": "Suivi", "body": "x"})
    assert first.status_code == 202, first.text
    conversation_id = first.json()["conversation_id"]
    accepted: list[str] = []
    writer = threading.Thread(
        target=_reply_many, args=(api, patient_token, conversation_id, 40, accepted)
    )
    writer.start()
    time.sleep(0.3)
    if victim == "nats":
        own_stack.nats.kill()
        time.sleep(1.0)
        own_stack.nats.start()
    else:
        own_stack.restart_service(victim)
    writer.join(120)
    own_stack.wait_ready()
    assert len(accepted) == 40 and len(set(accepted)) == 40

    def received() -> list[str] | None:
        r = api.http.get(
            f"/v1/mailboxes/{sender}/messages",
            headers=api.as_(token),
            params={"folder": "inbox", "limit": 100},
        )
        ids = [m["id"] for m in r.json()["items"] if m["kind"] == "message"]
        return ids if len(set(ids)) >= 40 else None

    ids = eventually(received, timeout=60, interval=0.5)
    assert sorted(ids) == sorted(accepted), "every reply delivered to the professional once"
