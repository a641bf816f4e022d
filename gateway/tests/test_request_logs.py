"""The log lines of a running gateway process, read as an operator reads them: one JSON object
a line, one line per request with its id, and nothing of what the request carried."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mes_dev.testing.nats_server import free_port

INS = "279035121518989"
SUBJECT = "Résultats confidentiels"
BODY = "Votre glycémie est normale."


def _start(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    stderr = tmp_path / "gateway.log"
    values = {
        **os.environ,
        "MES_GATEWAY_PORT": str(port),
        "MES_GATEWAY_ENVIRONMENT": "development",
        "MES_GATEWAY_LOG_JSON": "true",
        "MES_GATEWAY_LOG_LEVEL": "INFO",
        **{
            f"MES_GATEWAY_{name}_URL": f"http://127.0.0.1:{free_port()}"
            for name in ("IDENTITY", "MAILBOX", "CONVERSATION", "DIRECTORY", "NOTIFIER")
        },
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mes_gateway"],
        env=values,
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, stderr
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the gateway did not start: {stderr.read_text()}")


def _stop(process: subprocess.Popen[bytes], stderr: Path) -> list[dict[str, Any]]:
    process.send_signal(signal.SIGTERM)
    process.wait(20)
    text = stderr.read_text(encoding="utf-8")
    assert "\x1b" not in text  # no terminal colour escapes in a JSON log
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _walk(url: str) -> None:
    ops = httpx.post(f"{url}/v1/dev/tokens", json={"role": "ops"}).json()["access_token"]
    doctor = httpx.post(
        f"{url}/v1/dev/tokens",
        json={"role": "professional", "mailboxes": ["dr.martin@hopital.mssante.fr"]},
    ).json()["access_token"]
    httpx.get(
        f"{url}/v1/admin/patients/{INS}",
        headers={"Authorization": f"Bearer {ops}", "X-Request-ID": "walk-1"},
    )
    httpx.post(
        f"{url}/v1/messages",
        headers={"Authorization": f"Bearer {doctor}", "X-Request-ID": "walk-2"},
        json={
            "from": "dr.martin@hopital.mssante.fr",
            "to": f"{INS}@patient.mssante.fr",
            "subject": SUBJECT,
            "body": BODY,
        },
    )
    httpx.get(f"{url}/v1/mailboxes/dr.martin@hopital.mssante.fr/messages?folder=inbox")


def test_one_json_line_per_request_with_its_id_and_nothing_it_carried(tmp_path: Path) -> None:
    process, url, stderr = _start(tmp_path)
    try:
        _walk(url)
    finally:
        lines = _stop(process, stderr)
    requests = [line for line in lines if line["logger"] == "mes.requests"]
    by_id = {line["request_id"]: line for line in requests}
    admin = by_id["walk-1"]
    assert (admin["method"], admin["route"], admin["level"]) == (
        "GET",
        "/v1/admin/patients/{ins}",
        "info",
    )
    assert admin["status"] == 503 and admin["duration_ms"] >= 0  # identity is not running
    send = by_id["walk-2"]
    assert (send["method"], send["route"]) == ("POST", "/v1/messages")
    assert any(r["route"] == "/v1/mailboxes/{address}/messages" for r in requests)
    assert all(r["service"] == "gateway" and len(r["request_id"]) > 0 for r in requests)
    everything = stderr.read_text(encoding="utf-8")
    for secret in (INS, SUBJECT, BODY, "dr.martin"):
        assert secret not in everything, secret
    assert not any("color_message" in line for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # its lines are JSON too


def test_a_setting_turns_the_request_lines_off(tmp_path: Path) -> None:
    process, url, stderr = _start(tmp_path, MES_GATEWAY_LOG_REQUESTS="false")
    try:
        _walk(url)
    finally:
        lines = _stop(process, stderr)
    assert [line for line in lines if line["logger"] == "mes.requests"] == []


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
