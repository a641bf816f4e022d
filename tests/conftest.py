"""End-to-end fixtures: the whole system as processes, driven through the public API."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from mes_contracts.ins import ins_key

from .stack import Stack

T = TypeVar("T")
_serial = itertools.count(1)


def new_ins() -> str:
    """A valid INS nobody else in the run uses."""
    nir = f"2{int(time.time() * 1000) % 10**6:06d}{next(_serial):06d}"[:13]
    return nir + ins_key(nir)


def eventually(fn: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class Api:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=15)
        self.ops = self.token("ops")

    def token(self, role: str, **claims: Any) -> str:
        r = self.http.post("/v1/dev/tokens", json={"role": role, **claims})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def as_(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def set_state(self, patient: str, state: str) -> httpx.Response:
        """Changes the state of the profile of ``patient`` (an address) as ops do."""
        ins = patient.split("@")[0]
        return self.http.put(
            f"/v1/admin/patients/{ins}",
            headers=self.as_(self.ops),
            json={
                "state": state,
                "birth_name": "MARTIN",
                "first_names": "Jeanne",
                "email": f"p{ins}@example.org",
            },
        )

    def patient(self, state: str = "activated", app_installed: bool = True) -> tuple[str, str]:
        """Creates a patient; returns (address, token)."""
        ins = new_ins()
        r = self.http.put(
            f"/v1/admin/patients/{ins}",
            headers=self.as_(self.ops),
            json={
                "state": state,
                "birth_name": "MARTIN",
                "first_names": f"Jeanne {ins[-4:]}",
                "email": f"p{ins}@example.org",
                "app_installed": app_installed,
            },
        )
        assert r.status_code in (200, 201), r.text
        return f"{ins}@patient.mssante.fr", self.token("patient", ins=ins)

    def mailbox(
        self, address: str, type_: str = "PER", name: str = "Dr Claire Martin", **extra: Any
    ) -> str:
        """Registers a BAL; returns a token granting it."""
        r = self.http.put(
            f"/v1/admin/mailboxes/{address}",
            headers=self.as_(self.ops),
            json={"type": type_, "display_name": name, **extra},
        )
        assert r.status_code in (200, 201), r.text
        role = "application" if type_ == "APP" else "professional"
        return self.token(role, mailboxes=[address], name=name)

    def send(self, token: str, **body: Any) -> httpx.Response:
        headers = self.as_(token)
        key = body.pop("idempotency_key", None)
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post("/v1/messages", headers=headers, json=body)

    def delivered(self, patient_token: str, message_id: str) -> dict[str, Any]:
        """The message as the patient opens it, once it has reached the patient's mailbox."""
        headers = self.as_(patient_token)

        def opened() -> dict[str, Any] | None:
            r = self.http.get(f"/v1/me/messages/{message_id}", headers=headers)
            return dict(r.json()) if r.status_code == 200 else None

        return eventually(opened)

    def inbox(self, token: str, address: str, folder: str = "inbox") -> list[dict[str, Any]]:
        r = self.http.get(
            f"/v1/mailboxes/{address}/messages", headers=self.as_(token), params={"folder": folder}
        )
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    def my_conversations(self, token: str, **params: Any) -> list[dict[str, Any]]:
        r = self.http.get("/v1/me/conversations", headers=self.as_(token), params=params)
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(Path(tmp_path_factory.mktemp("stack")))
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack.url)
