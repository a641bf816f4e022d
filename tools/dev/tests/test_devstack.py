"""``mes-dev`` (``make run``) as a developer uses it: a real run of the whole stack in a
subprocess, then Ctrl-C, after which nothing of it may be left running."""

from __future__ import annotations

import importlib
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from mes_dev.devstack import internal_token
from mes_dev.devstack_demo import DEMO_PATIENTS
from mes_dev.devstack_services import SERVICES, ServiceSpec, StackAddresses, service_env
from mes_dev.testing import free_port
from mes_dev.testing.nats_server import _ephemeral_ports

START_DEADLINE = 90.0
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _mes_dev(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "mes-dev"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "mes_dev.devstack"]
    return [*base, *args]


def _call(
    method: str, url: str, body: Any = None, token: str | None = None
) -> tuple[int, str, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _http.open(request, timeout=10) as response:
            return (
                response.status,
                response.headers.get("content-type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read().decode()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited already


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until_up(proc: subprocess.Popen[bytes], out: Path, state_file: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        text = out.read_text(errors="replace")
        if proc.poll() is not None:
            pytest.fail(f"mes-dev exited with {proc.returncode}:\n{text}")
        if "MES Messagerie is up" in text:
            return dict(json.loads(state_file.read_text()))
        time.sleep(0.2)
    pytest.fail(f"mes-dev not up within {START_DEADLINE} s:\n{out.read_text(errors='replace')}")


def _wait_restarted(
    proc: subprocess.Popen[bytes], out: Path, state_file: Path, killed: dict[str, int]
) -> dict[str, Any]:
    """The state once every process in ``killed`` (name -> pid) runs again under a new pid."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mes-dev exited with {proc.returncode}:\n{out.read_text()}")
        state = dict(json.loads(state_file.read_text()))
        pids = state["pids"]
        if all(pids[name] != pid and _alive(pids[name]) for name, pid in killed.items()):
            return state
        time.sleep(0.2)
    pytest.fail(f"not started again within 30 s:\n{out.read_text(errors='replace')}")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_mes_dev_runs_the_stack_starts_again_what_dies_and_stops_all(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    out = tmp_path / "mes-dev.out"
    gateway_port = free_port()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            _mes_dev("--no-demo", "--data-dir", str(data_dir), "--gateway-port", str(gateway_port)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    state: dict[str, Any] = {}
    try:
        state = _wait_until_up(proc, out, data_dir / "devstack.json")
        assert set(state["services"]) == {spec.name for spec in SERVICES}
        for name in state["services"]:
            status, _, body = _call("GET", state["services"][name]["url"] + "/healthz")
            assert status == 200, (name, body)

        # The SMTP sink keeps what the notifier sends.
        host, smtp_port = state["smtp"].split(":")
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "noreply@mes.test", "a@b.test", "Bonjour"
        mail.set_content("Vous avez un nouveau message.")
        with smtplib.SMTP(host, int(smtp_port), timeout=5) as smtp:
            smtp.send_message(mail)
        kept = list((data_dir / "mail").glob("*.eml"))
        assert len(kept) == 1 and b"Subject: Bonjour" in kept[0].read_bytes()

        gateway = state["gateway_url"]
        assert gateway == f"http://127.0.0.1:{gateway_port}"
        status, _, body = _call("GET", gateway + "/health")
        assert status == 200, body
        status, ctype, body = _call("GET", gateway + "/docs")
        assert status == 200 and ctype.startswith("text/html") and "swagger" in body.lower()

        # The demo hook loads through the public API, and runs again on the same data (as each
        # `make run` does) without failing.
        for _ in range(2):
            demo = subprocess.run(
                [sys.executable, "-m", "mes_dev.devstack_demo", "--gateway", gateway],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert demo.returncode == 0, demo.stderr
        corsican = next(p for p in DEMO_PATIENTS if "2A" in p.ins)
        assert corsican.address in demo.stdout
        status, _, body = _call("POST", gateway + "/v1/dev/tokens", {"role": "ops"})
        assert status == 200, body
        token = json.loads(body)["access_token"]
        status, _, body = _call("GET", f"{gateway}/v1/admin/patients/{corsican.ins}", token=token)
        assert status == 200 and json.loads(body)["state"] == "activated", body
        status, _, _ = _call("GET", f"{gateway}/v1/admin/patients/{corsican.ins}")
        assert status == 401

        # A service, or NATS, that dies is started again, and the stack serves again.
        killed = {name: state["pids"][name] for name in ("conversation", "nats")}
        for pid in killed.values():
            os.kill(pid, signal.SIGKILL)
        state = _wait_restarted(proc, out, data_dir / "devstack.json", killed)
        assert not any(_alive(pid) for pid in killed.values())
        deadline = time.monotonic() + 60
        while _call("GET", gateway + "/health")[0] != 200:
            assert time.monotonic() < deadline, _call("GET", gateway + "/health")
            time.sleep(0.2)
        status, _, body = _call("GET", f"{gateway}/v1/admin/patients/{corsican.ins}", token=token)
        assert status == 200, body
        assert "conversation exited with code -9; starting it again" in out.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            pytest.fail(f"mes-dev did not stop within 60 s:\n{out.read_text(errors='replace')}")

    assert proc.returncode == 0, out.read_text(errors="replace")
    assert "stopped" in out.read_text()
    left = {name: pid for name, pid in state["pids"].items() if _alive(pid)}
    assert left == {}, f"still running after Ctrl-C: {left}"
    ports = [
        gateway_port,
        int(state["nats_url"].rsplit(":", 1)[1]),
        int(state["smtp"].split(":")[1]),
    ]
    ports += [int(s["url"].rsplit(":", 1)[1]) for s in state["services"].values()]
    assert [p for p in ports if _listening(p)] == []
    assert not (data_dir / "devstack.json").exists()


def test_mes_dev_refuses_a_gateway_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            _mes_dev("--no-demo", "--data-dir", str(tmp_path / "var"), "--gateway-port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stdout
    assert not list((tmp_path / "var" / "log").glob("*.log"))  # nothing was started


def test_the_internal_token_is_random_and_kept_for_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = internal_token(tmp_path / "a")
    assert len(first) >= 32
    assert internal_token(tmp_path / "a") == first
    assert internal_token(tmp_path / "b") != first
    assert (tmp_path / "a" / ".internal-token").stat().st_mode & 0o077 == 0  # owner only


_URL_KEYS = {spec.url_key.lower(): spec.name for spec in SERVICES if spec.url_key}


def _settings_class(spec: ServiceSpec) -> type[BaseSettings]:
    module = importlib.import_module(f"{spec.module}.settings")
    found = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, BaseSettings) and c.__module__ == module.__name__
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_reads_what_mes_dev_gives_it(
    spec: ServiceSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked against the real settings classes: a renamed variable would leave a service
    on its default port or talking to the machine's own NATS on 4222."""
    ports = {s.name: 20001 + i for i, s in enumerate(SERVICES)}
    stack = StackAddresses(
        ports=ports, nats_url="nats://127.0.0.1:20100", smtp_host="127.0.0.1", smtp_port=20101
    )
    for name, value in service_env(spec, stack, data_dir=tmp_path, internal_token="tok").items():
        monkeypatch.setenv(name, value)
    settings = _settings_class(spec)()
    values = settings.model_dump()
    assert (values["host"], values["port"]) == ("127.0.0.1", ports[spec.name])
    assert values["environment"] == "development"
    assert settings.internal_token.get_secret_value() == "tok"  # type: ignore[attr-defined]
    if "nats_url" in values:
        assert values["nats_url"] == stack.nats_url
    if "data_dir" in values:
        assert Path(values["data_dir"]) == tmp_path
    for field, value in values.items():
        key = field.removesuffix("_url")
        if field.endswith("_url") and key in _URL_KEYS:
            assert value == stack.url(_URL_KEYS[key]), field
        if field == "smtp_port":
            assert value == stack.smtp_port


def test_ports_are_chosen_outside_the_range_of_outgoing_connections() -> None:
    """A port chosen for a service cannot become, before the service binds it, the local end
    of one of the many connections the other processes open meanwhile."""
    low, high = _ephemeral_ports()
    for _ in range(20):
        port = free_port()
        assert not low <= port <= high
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


def test_ports_chosen_in_a_row_are_all_different() -> None:
    """A stack picks every port before any process binds one: none may be given twice."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
