"""The whole system as separate processes, for end-to-end tests: a real NATS server, the five
services and the gateway on SQLite, each a ``python -m`` child that a test can kill and restart."""

from __future__ import annotations

import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from mes_dev.devstack_procs import Child, stop_all, tail, wait_for_port
from mes_dev.devstack_services import SERVICES, StackAddresses, service_env
from mes_dev.testing import NatsServer, free_port

__all__ = ["Stack"]


class Stack:
    def __init__(self, data_dir: Path, extra_env: dict[str, dict[str, str]] | None = None) -> None:
        self.data_dir = data_dir
        self.nats = NatsServer(data_dir / "nats")
        self.token = secrets.token_urlsafe(24)
        self.addresses = StackAddresses(
            ports={s.name: free_port() for s in SERVICES},
            nats_url=self.nats.url,
            smtp_host="127.0.0.1",
            smtp_port=free_port(),
        )
        self.extra_env = extra_env or {}
        self.children: dict[str, Child] = {}

    @property
    def url(self) -> str:
        return self.addresses.url("gateway")

    @property
    def patient_url(self) -> str:
        """The patients' gateway: the same API, served by a process of its own."""
        return self.addresses.url("gateway-patients")

    def _child(self, name: str) -> Child:
        spec = next(s for s in SERVICES if s.name == name)
        env = {
            **dict(__import__("os").environ),
            **service_env(spec, self.addresses, data_dir=self.data_dir, internal_token=self.token),
            **self.extra_env.get(name, {}),
        }
        env[f"{spec.prefix}LOG_LEVEL"] = "WARNING"
        return Child(
            name, [sys.executable, "-m", spec.module], self.data_dir / "log" / f"{name}.log", env
        )

    def start(self, timeout: float = 60.0) -> None:
        self.nats.start()
        for spec in SERVICES:
            child = self.children[spec.name] = self._child(spec.name)
            child.start()
        for spec in SERVICES:
            wait_for_port(
                "127.0.0.1", self.addresses.ports[spec.name], self.children[spec.name], timeout
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.url + "/health", timeout=3)
                if r.status_code == 200:
                    return
                last = r.json()
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        logs = "\n".join(f"{n}:\n{tail(c.log_path)}" for n, c in self.children.items())
        raise RuntimeError(f"stack not ready: {last}\n{logs}")

    def kill_service(self, name: str) -> None:
        child = self.children[name]
        child.signal_group(signal.SIGKILL)
        if child.process is not None:
            child.process.wait(10)

    def restart_service(self, name: str) -> None:
        self.kill_service(name)
        child = self.children[name] = self._child(name)
        child.start()
        wait_for_port("127.0.0.1", self.addresses.ports[name], child, 30)

    def stop(self) -> None:
        stop_all(list(self.children.values())[::-1], grace=10)
        self.nats.stop()
