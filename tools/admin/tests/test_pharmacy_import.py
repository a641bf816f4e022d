"""``mes-admin import-finess`` and ``import-dispensations`` against the real gateway and
pharmacy-directory service, each its own process (real NATS)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from mes_admin.finess import luhn_digit
from mes_contracts.ins import ins_key
from mes_dev.testing import NatsServer, free_port

from .test_real_stack import _start, _wait_ready, mes_admin

INS = "1850775123456" + ins_key("1850775123456")


def _finess(payload: str) -> str:
    return payload + str(luhn_digit(payload))


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("pharmacy-stack")
    directory_port, gateway_port = free_port(), free_port()
    nats_server = NatsServer(tmp_path / "nats")
    nats_server.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        (tmp_path / "directory").mkdir()
        log = tmp_path / "directory.log"
        directory = _start(
            "mes_pharmacy_directory",
            {
                "MES_DIRECTORY_PORT": str(directory_port),
                "MES_DIRECTORY_DATA_DIR": str(tmp_path / "directory"),
                "MES_DIRECTORY_NATS_URL": nats_server.url,
                "MES_DIRECTORY_LOG_LEVEL": "WARNING",
            },
            log,
        )
        processes.append(directory)
        _wait_ready(directory, f"http://127.0.0.1:{directory_port}/readyz", log)
        log = tmp_path / "gateway.log"
        gateway = _start(
            "mes_gateway",
            {
                "MES_GATEWAY_PORT": str(gateway_port),
                "MES_GATEWAY_DIRECTORY_URL": f"http://127.0.0.1:{directory_port}",
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


def _search(gateway: str, **params: str) -> list[dict[str, object]]:
    token = httpx.post(f"{gateway}/v1/dev/tokens", json={"role": "patient", "ins": INS})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    answer = httpx.get(f"{gateway}/v1/me/pharmacies", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def test_import_an_extract_then_a_newer_one(gateway_url: str, tmp_path: Path) -> None:
    extract = tmp_path / "extract.csv"
    generated = mes_admin(
        gateway_url,
        "generate-finess",
        str(extract),
        "--pharmacies",
        "1200",
        "--other-lines",
        "400",
    )
    assert generated.returncode == 0, generated.stderr
    origin, wrong = _finess("63000001"), "630000029"
    assert luhn_digit("63000002") != 9
    lines = extract.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    structures = [line for line in body if line.startswith("structureet")]
    geos = [line for line in body if line.startswith("geolocalisation")]
    template = structures[0].split(";")

    def pharmacy(finess: str, name: str) -> str:
        fields = list(template)
        fields[1], fields[4] = finess, name
        fields[15] = "63000 CLERMONT-FERRAND"
        return ";".join(fields)

    extra = [pharmacy(origin, "Pharmacie du Point Zéro"), pharmacy(wrong, "Pharmacie Fausse")]
    extra_geo = [f"geolocalisation;{origin};700000.0;6600000.0;1,ATLASANTE;2024-01-01"]
    extract.write_text(
        "\n".join([header, *structures, *extra, *geos, *extra_geo]) + "\n", encoding="utf-8"
    )
    wrong_line = 1 + len(structures) + 2

    first = mes_admin(gateway_url, "import-finess", str(extract), "--no-progress")
    assert first.returncode == 1, first.stderr  # one line rejected
    assert f"line {wrong_line}: {wrong}: wrong check digit" in first.stderr
    assert "1201 pharmacies, 1201 created, 0 updated, 0 unchanged, 1 lines rejected" in (
        first.stderr
    )
    (found,) = _search(gateway_url, q="point zero")
    assert found["finess"] == origin
    # The origin of Lambert 93 is 3 deg E, 46.5 deg N: a few metres at most.
    assert abs(float(str(found["lat"])) - 46.5) < 2e-5
    assert abs(float(str(found["lon"])) - 3.0) < 3e-5
    assert _search(gateway_url, q="fausse") == []

    again = mes_admin(gateway_url, "import-finess", str(extract), "--no-progress")
    assert "0 created, 0 updated, 1201 unchanged" in again.stderr

    newer = tmp_path / "newer.csv"
    kept = [line for line in extract.read_text(encoding="utf-8").splitlines() if origin not in line]
    newer.write_text("\n".join(kept) + "\n", encoding="utf-8")
    third = mes_admin(gateway_url, "import-finess", str(newer), "--no-progress")
    assert "1 closed (absent from this extract)" in third.stderr, third.stderr
    assert _search(gateway_url, q="point zero") == []

    history = tmp_path / "dispensations.csv"
    some = str(date.today() - timedelta(days=10))
    history.write_text(
        f"ins,finess,date\n{INS},{origin},{some}\n{INS},{wrong},{some}\n{INS},x,hier\n",
        encoding="utf-8",
    )
    imported = mes_admin(gateway_url, "import-dispensations", str(history))
    assert imported.returncode == 1
    assert "line 4: date is not YYYY-MM-DD" in imported.stderr
    assert f"line 3: {INS}: invalid_finess" in imported.stderr
