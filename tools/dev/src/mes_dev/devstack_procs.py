"""Child processes of the development stack: started with their output in a log file, each in
its own process group, and stopped with SIGTERM, then SIGKILL for those that linger."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Child", "port_is_free", "stop_all", "tail", "wait_for_port"]


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child if mes-dev itself dies without cleaning up (SIGKILL)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class Child:
    """One process of the stack, its output appended to ``log_path``."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- mes-dev started {self.name} at {stamp} ---\n".encode())
            log.flush()
            # Its own process group: the terminal's Ctrl-C reaches mes-dev only, which then
            # stops the services before NATS, instead of everything dying at once.
            self.process = subprocess.Popen(  # noqa: S603 - argv built by mes-dev itself
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def exit_code(self) -> int | None:
        """None while running."""
        return self.process.poll() if self.process else None

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


def stop_all(children: Sequence[Child], grace: float) -> list[str]:
    """SIGTERM every child, wait up to ``grace`` seconds, SIGKILL the rest; return their names."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(c.exit_code() is None for c in children):
        time.sleep(0.05)
    killed = [c.name for c in children if c.process is not None and c.exit_code() is None]
    for child in children:
        if child.process is not None and child.exit_code() is None:
            child.signal_group(signal.SIGKILL)
            child.process.wait(5)
    return killed


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens there (SO_REUSEADDR: a connection in TIME_WAIT is no listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.exit_code() is not None:
            raise RuntimeError(
                f"{child.name} exited with code {child.exit_code()}; "
                f"see {child.log_path}\n{tail(child.log_path)}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s; see {child.log_path}"
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])
