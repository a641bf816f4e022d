"""Start and stop the whole stack (``mes-dev``) on a clean data directory for one bench run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mes_dev.devstack_services import SERVICES
from mes_dev.testing import free_port

__all__ = [
    "Stack",
    "http_json",
    "process_cpu_and_written",
    "process_cpu_seconds",
]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _name(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    if any(arg.endswith("nats-server") for arg in argv):
        return "nats"
    for spec in SERVICES:  # started as ``python -m <module>``
        if spec.module in argv:
            return spec.name
    return None


def _written_bytes(pid: int) -> int | None:
    """What the process caused to be written to storage (``write_bytes`` of /proc/<pid>/io,
    counted as it dirties the page cache: a database's WAL frames and checkpoints included)."""
    try:
        with open(f"/proc/{pid}/io", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "write_bytes":
                    return int(value)
    except OSError:
        return None
    return None


def _per_process(
    root: int, names: dict[int, str] | None, *reads: Callable[[int], float | None]
) -> list[dict[str, float]]:
    """Each of ``reads`` for every process of the stack under ``root``, in one walk, summed by
    name (``names``: what mes-dev calls each pid, so that two processes of one service are told
    apart; else the service whose module it runs); empty where /proc is not available."""
    found: list[dict[str, float]] = [{} for _ in reads]
    for pid in _children(root):
        name = (names or {}).get(pid) or _name(pid)
        if name is None:
            continue
        for counts, read in zip(found, reads, strict=True):
            value = read(pid)
            if value is not None:
                counts[name] = counts.get(name, 0.0) + value
    return found


def process_cpu_seconds(root: int, names: dict[int, str] | None = None) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process of the stack, by name."""
    return _per_process(root, names, _cpu_seconds)[0]


def process_cpu_and_written(
    root: int, names: dict[int, str] | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds, and bytes written to storage, so far by each process of the stack, by name,
    from one walk of the processes."""
    cpu, written = _per_process(root, names, _cpu_seconds, _written_bytes)
    return cpu, written


def http_json(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 10.0
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw.decode(errors="replace")


class Stack:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.patient_port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def process_names(self, timeout: float = 10.0) -> dict[int, str]:
        """What mes-dev calls each of its processes, by pid, from its state file: written
        once mes-dev found everything ready, which may be just after the gateway answered."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = json.loads((self.data_dir / "devstack.json").read_text("utf-8"))
            except (OSError, ValueError):
                state = {}
            if "pids" in state or time.monotonic() > deadline:
                return {int(pid): name for name, pid in state.get("pids", {}).items() if pid}
            time.sleep(0.1)

    @property
    def patient_url(self) -> str:
        """The patients' gateway: the same API, served apart for the patients' apps."""
        return f"http://127.0.0.1:{self.patient_port}"

    def start(self, timeout: float = 90.0) -> float:
        """Returns the seconds until every service was ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        mes_dev = Path(sys.executable).parent / "mes-dev"
        log = (self.data_dir / "mes-dev.out").open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - argv built here from our own paths
            [
                str(mes_dev),
                "--no-demo",
                "--data-dir",
                str(self.data_dir),
                "--gateway-port",
                str(self.port),
                "--patient-gateway-port",
                str(self.patient_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited; see {self.data_dir / 'mes-dev.out'}")
            try:
                status, _ = http_json("GET", self.url + "/health", timeout=2)
                if status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("the stack did not become ready in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
