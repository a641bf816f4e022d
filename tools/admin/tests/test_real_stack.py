"""``mes-admin`` against the real gateway and identity service, each its own process.

NATS is real too (the identity service publishes its events through it). The CLI runs as
the operator runs it: a subprocess, reading a file, talking HTTP.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mes_contracts.ins import ins_key
from mes_dev.testing import NatsServer, free_port

pytest.importorskip("mes_gateway.main")
pytest.importorskip("mes_identity.main")

MES_ADMIN = [sys.executable, "-c", "import sys; from mes_admin.cli import main; sys.exit(main())"]


def make_ins(n: int) -> str:
    nir = f"2{n:012d}"
    return nir + ins_key(nir)


def _start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in 30 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One stack for the module: starting three processes costs seconds."""
    tmp_path = tmp_path_factory.mktemp("stack")
    identity_port, gateway_port = free_port(), free_port()
    nats_server = NatsServer(tmp_path / "nats")
    nats_server.start()
    processes = []
    try:
        log = tmp_path / "identity.log"
        identity = _start(
            "mes_identity",
            {
                "MES_IDENTITY_PORT": str(identity_port),
                "MES_IDENTITY_DATA_DIR": str(tmp_path / "identity"),
                "MES_IDENTITY_NATS_URL": nats_server.url,
                "MES_IDENTITY_LOG_LEVEL": "WARNING",
            },
            log,
        )
        processes.append(identity)
        (tmp_path / "identity").mkdir(exist_ok=True)
        _wait_ready(identity, f"http://127.0.0.1:{identity_port}/readyz", log)
        log = tmp_path / "gateway.log"
        gateway = _start(
            "mes_gateway",
            {
                "MES_GATEWAY_PORT": str(gateway_port),
                "MES_GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{identity_port}",
                "MES_GATEWAY_ENVIRONMENT": "development",
                "MES_GATEWAY_LOG_LEVEL": "WARNING",
            },
            log,
        )
        processes.append(gateway)
        _wait_ready(gateway, f"http://127.0.0.1:{gateway_port}/healthz", log)
        yield f"http://127.0.0.1:{gateway_port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        nats_server.stop()


def mes_admin(gateway: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MES_ADMIN_TOKEN", "MES_GATEWAY_URL")}
    return subprocess.run(
        [*MES_ADMIN, args[0], "--gateway", gateway, *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_import_300_lines_with_bad_ones_then_resolve(gateway_url: str, tmp_path: Path) -> None:
    rows = [
        [
            make_ins(n),
            "activated" if n % 3 else "created",
            f"NOM{n}",
            "Prénom Deux",
            "",
            f"p{n}@example.fr",
            "oui" if n % 2 else "",
        ]
        for n in range(300)
    ]
    bad = {
        11: ["12345", "created", "X", "Y", "", "x@example.fr", ""],  # local: wrong_length
        51: [make_ins(999)[:13] + "00", "created", "X", "Y", "", "x@example.fr", ""],  # wrong_key
        101: [make_ins(1001), "dormant", "X", "Y", "", "x@example.fr", ""],  # invalid_state
        151: [make_ins(1002), "created", "X", "Y", "", "x y@example.fr", ""],  # gateway refuses
        201: [make_ins(1003), "created", "X" * 201, "Y", "", "x@example.fr", ""],  # too long
    }
    for index, row in bad.items():
        rows[index - 2] = row  # file line = index, the header is line 1
    rows[250 - 2][1] = "closed"
    source = tmp_path / "patients.csv"
    with source.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["ins", "state", "birth_name", "first_names", "display_name", "email", "app_installed"]
        )
        writer.writerows(rows)
    report = tmp_path / "report.csv"

    run = mes_admin(gateway_url, "import-patients", str(source), "--report", str(report))
    print(run.stderr.splitlines()[-1])  # the rate, visible with -s
    assert run.returncode == 1, run.stderr
    assert "300 lines: 295 created, 0 updated (or unchanged), 5 rejected, 0 failed" in run.stderr
    refused = {int(r["line"]): r["reason"] for r in csv.DictReader(report.open())}
    details = {int(r["line"]): r["detail"] for r in csv.DictReader(report.open())}
    assert details[151].startswith("email: ") and details[201].startswith("birth_name: ")
    assert refused[11] == "wrong_length" and refused[51] == "wrong_key"
    assert refused[101] == "invalid_state"
    # Refused by the gateway, not locally: the problem's code is reported.
    assert refused[151].startswith("validation") and refused[201].startswith("validation")

    # Importing again is harmless: the same 20 lines, read from stdin as JSON Lines.
    keys = ["ins", "state", "birth_name", "first_names", "display_name", "email"]
    replay = "".join(json.dumps(dict(zip(keys, row[:6], strict=True))) + "\n" for row in rows[:20])
    again = mes_admin(gateway_url, "import-patients", "-", "--format", "jsonl", stdin=replay)
    assert (
        "20 lines: 0 created, 19 updated (or unchanged), 1 rejected" in again.stderr
        and again.returncode == 1
    )
    assert "line 10: rejected 12345 wrong_length" in again.stderr

    ok = mes_admin(gateway_url, "resolve", f"{make_ins(10)}@patient.mssante.fr")
    assert ok.returncode == 0, ok.stderr
    resolution = json.loads(ok.stdout)
    assert resolution["status"] == "deliverable" and resolution["app_installed"] is False
    closed = mes_admin(gateway_url, "resolve", f"{make_ins(248)}@patient.mssante.fr")
    assert json.loads(closed.stdout)["status"] == "closed" and closed.returncode == 1
    # The line the gateway refused was not stored.
    token = httpx.post(f"{gateway_url}/v1/dev/tokens", json={"role": "ops"}).json()["access_token"]
    missing = httpx.get(
        f"{gateway_url}/v1/admin/addresses/{make_ins(1002)}@patient.mssante.fr/resolution",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert missing.json()["status"] == "not_found"


def test_a_refused_token_stops_the_import(gateway_url: str, tmp_path: Path) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text(
        json.dumps(
            {
                "ins": make_ins(1),
                "state": "created",
                "birth_name": "B",
                "first_names": "F",
                "email": "f@example.fr",
            }
        )
        + "\n"
    )
    run = mes_admin(gateway_url, "import-patients", str(source), "--token", "not.a.jwt")
    assert run.returncode == 2
    assert "token was refused" in run.stderr
