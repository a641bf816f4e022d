"""``make bench ARGS='--notifications'``: from a message's ``202`` to the patient's e-mail
accepted by the SMTP server, while professionals send at full rate, and whether the notifier
keeps up; ``--notification-faults``: the relay down for a while during a run, and the
notifier killed (SIGKILL) during a burst, counting e-mails missing and duplicated.

Latency: the whole stack (``mes-dev``), its SMTP sink keeping each accepted e-mail as a file
named by the time it was accepted. A probe patient gets one message at a time (its ``202``
noted) and the probe waits for its e-mail; the professionals' load goes to other patients.
The baseline is the same probe on the idle stack, in the same run. Patient e-mails are not
grouped here (window 0): with grouping, an e-mail waits for its window by design.

Faults: NATS, the notifier and an SMTP server run by this bench (aiosmtpd), the events
published as the conversation and identity services would publish them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .load import percentile
from .stack import Stack, http_json, process_cpu_seconds

__all__ = ["fault_runs", "latency_under_load"]

PROBE_EMAIL = "sonde@example.org"


def _metric(url: str, name: str) -> float | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:  # noqa: S310
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.rsplit(" ", 1)[1])
    except OSError:
        return None
    return None


class MailFolder:
    """The dev stack's sink folder: each new .eml's accept time (from its name) and envelope
    recipients (its first header)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()

    def new(self) -> list[tuple[float, str]]:
        found = []
        try:
            entries = list(os.scandir(self.path))
        except FileNotFoundError:
            return []
        for entry in entries:
            if not entry.name.endswith(".eml") or entry.name in self.seen:
                continue
            self.seen.add(entry.name)
            stamp = datetime.strptime(entry.name.split("-")[0], "%Y%m%dT%H%M%S.%fZ")
            with open(entry.path, "rb") as f:
                head = f.read(400).decode("utf-8", "replace")
            rcpt = head.split("\r\n", 2)[1] if head.count("\r\n") >= 2 else ""
            found.append((stamp.replace(tzinfo=UTC).timestamp(), rcpt))
        return found


def _probe(
    stack: Stack, token: str, probe_ins: str, folder: MailFolder, until: float
) -> list[float]:
    """One message at a time to the probe patient; the delay until its e-mail was accepted."""
    delays: list[float] = []
    body = {
        "from": "dr.bench@hopital-bench.mssante.fr",
        "to": f"{probe_ins}@patient.mssante.fr",
        "subject": "Sonde",
        "body": "Sonde",
    }
    while time.time() < until:
        status, _ = http_json("POST", stack.url + "/v1/messages", body, token)
        accepted = time.time()
        if status != 202:
            time.sleep(0.05)
            continue
        deadline = accepted + 30
        got = None
        while got is None and time.time() < deadline:
            for at, rcpt in folder.new():
                if PROBE_EMAIL in rcpt:
                    got = at
            if got is None:
                time.sleep(0.002)
        if got is not None:
            delays.append(max(0.0, got - accepted))
        time.sleep(0.05)
    return delays


def _emails_in(folder: Path) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(".eml"))
    except FileNotFoundError:
        return 0


def _notifier_cpu(stack: Stack, names: dict[int, str]) -> float:
    """The CPU of every process of the notifier (``notifier``, ``notifier-2``, ...)."""
    assert stack.process is not None
    cpu = process_cpu_seconds(stack.process.pid, names)
    return sum(seconds for name, seconds in cpu.items() if name.split("-")[0] == "notifier")


def _service_url(data_dir: Path, name: str, timeout: float = 30.0) -> str:
    """A service's URL from mes-dev's state file, which it writes once it found everything
    ready: possibly just after the gateway answered."""
    import json

    deadline = time.monotonic() + timeout
    while True:
        try:
            state = json.loads((data_dir / "devstack.json").read_text("utf-8"))
            return str(state["services"][name]["url"])
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _summary(delays: list[float]) -> dict[str, Any]:
    if not delays:
        return {"samples": 0}
    return {
        "samples": len(delays),
        "p50_ms": round(percentile(delays, 50) * 1000, 1),
        "p99_ms": round(percentile(delays, 99) * 1000, 1),
        "max_ms": round(max(delays) * 1000, 1),
    }


def latency_under_load(
    data_dir: Path, patients: int, concurrency: int, duration: float, send_load: Any, prepare: Any
) -> dict[str, Any]:
    from .__main__ import patient_ins

    stack = Stack(data_dir, env={"MES_NOTIFIER_GROUP_WINDOW_SECONDS": "0"})
    stack.start()
    try:
        tokens = prepare(stack, patients)
        _, ops = http_json("POST", stack.url + "/v1/dev/tokens", {"role": "ops"})
        probe_ins = patient_ins(patients + 1)
        http_json(
            "PUT",
            stack.url + f"/v1/admin/patients/{probe_ins}",
            {
                "state": "created",
                "birth_name": "SONDE",
                "first_names": "Sonde",
                "email": PROBE_EMAIL,
            },
            ops["access_token"],
        )
        notifier_url = _service_url(data_dir, "notifier")
        folder = MailFolder(data_dir / "mail")
        time.sleep(1.0)
        folder.new()
        idle = _probe(stack, tokens["pro"], probe_ins, folder, time.time() + min(10.0, duration))

        backlog: list[tuple[float, float | None]] = []
        result: dict[str, Any] = {}
        names = stack.process_names()
        cpu_before, emails_before = _notifier_cpu(stack, names), _emails_in(folder.path)
        load_before = os.getloadavg()

        def load() -> None:
            result.update(send_load(stack, tokens, patients, concurrency, duration, probes=False))

        started = time.time()
        thread = threading.Thread(target=load)
        thread.start()
        time.sleep(2.0)  # the load generator's start-up
        sampler_stop = threading.Event()

        def sample() -> None:
            while not sampler_stop.wait(5.0):
                backlog.append(
                    (
                        round(time.time() - started, 1),
                        _metric(notifier_url, "mes_notifications_backlog"),
                    )
                )

        sampler = threading.Thread(target=sample)
        sampler.start()
        loaded = _probe(stack, tokens["pro"], probe_ins, folder, started + duration)
        thread.join()
        load_end = time.time()
        drained_after = None
        while time.time() < load_end + 120:
            value = _metric(notifier_url, "mes_notifications_backlog")
            if value == 0:
                drained_after = round(time.time() - load_end, 1)
                break
            time.sleep(0.5)
        sampler_stop.set()
        sampler.join()
        load_after = os.getloadavg()
        emails = _emails_in(folder.path) - emails_before
        cpu = _notifier_cpu(stack, names) - cpu_before
        return {
            "idle": _summary(idle),
            "under_load": _summary(loaded),
            "sends_per_s": result.get("throughput_rps"),
            "sent_total": result.get("sent_total"),
            "backlog_samples": backlog,
            "backlog_drained_s_after_load": drained_after,
            # the notifier's CPU (user + system) from the load's start until drained, per
            # e-mail the sink accepted meanwhile
            "emails_during_load_and_drain": emails,
            "notifier_cpu_s": round(cpu, 2),
            "notifier_cpu_ms_per_email": round(1000 * cpu / emails, 2) if emails else None,
            "load_average_1m_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
        }
    finally:
        stack.stop()


# --- faults -----------------------------------------------------------------------------------


class CountingSink:
    """An SMTP server counting e-mails by Message-ID."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content or b""
        for line in content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return len(self.ids), sum(n - 1 for n in self.ids.values())


def _publish(nats_url: str, envelopes: list[Any]) -> None:
    import asyncio

    from mes_platform.bus import EventBus

    async def run() -> None:
        bus = EventBus(nats_url, name="bench-publisher")
        bus.start()
        await bus.wait_connected(10)
        await bus.ensure_streams(["MES_IDENTITY", "MES_CONVERSATION"])
        pending = []
        for envelope in envelopes:
            pending.append(
                await bus.js.publish_async(
                    envelope.type, envelope.to_json_bytes(), headers={"Nats-Msg-Id": envelope.id}
                )
            )
            if len(pending) >= 256:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        await bus.close()

    asyncio.run(run())


def _events(count: int, patients: int) -> tuple[list[Any], list[Any]]:
    from mes_contracts import EventEnvelope
    from mes_contracts.events.conversation import MessageAccepted
    from mes_contracts.events.identity import PatientCreated, PatientState
    from mes_contracts.events.parties import Party, PartyKind

    from .__main__ import patient_ins

    profiles = [
        EventEnvelope.wrap(
            PatientCreated(
                ins=patient_ins(n),
                state=PatientState.CREATED,
                previous_state=None,
                birth_name="BENCH",
                first_names="P",
                display_name="P",
                email=f"p{n}@example.org",
                app_installed=False,
            ),
            correlation_id="bench",
        )
        for n in range(1, patients + 1)
    ]
    pro = Party(
        address="dr.bench@hopital-bench.mssante.fr", kind=PartyKind.PROFESSIONAL, display_name="Dr"
    )
    messages = [
        EventEnvelope.wrap(
            MessageAccepted(
                message_id=f"msg-bench-{i}",
                conversation_id="conv-bench",
                sender=pro,
                recipient=Party(
                    address=f"{patient_ins(1 + i % patients)}@patient.mssante.fr",
                    kind=PartyKind.PATIENT,
                    display_name="P",
                ),
                subject="x",
                body="x",
                sent_at=datetime.now(UTC),
            ),
            correlation_id="bench",
        )
        for i in range(count)
    ]
    return profiles, messages


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mes_notifier"], env=env, stdout=out, stderr=out
        )


def fault_runs(data_dir: Path, messages: int, outage: float, kills: int) -> dict[str, Any]:
    from mes_dev.testing import NatsServer, free_port

    report: dict[str, Any] = {}
    for mode in ("relay_down", "sigkill"):
        run_dir = data_dir / mode
        run_dir.mkdir(parents=True, exist_ok=True)
        nats = NatsServer(run_dir / "nats")
        nats.start()
        sink = CountingSink(free_port())
        sink.start()
        env = {
            **os.environ,
            "MES_NOTIFIER_DATA_DIR": str(run_dir),
            "MES_NOTIFIER_DATABASE_URL": "",
            "MES_NOTIFIER_NATS_URL": nats.url,
            "MES_NOTIFIER_PORT": str(free_port()),
            "MES_NOTIFIER_SMTP_PORT": str(sink.port),
            "MES_NOTIFIER_GROUP_WINDOW_SECONDS": "0",
            "MES_NOTIFIER_LEASE_SECONDS": "10",
            "MES_NOTIFIER_RETRY_MAX_SECONDS": "5",
            "MES_NOTIFIER_LOG_LEVEL": "WARNING",
        }
        log = run_dir / "notifier.log"
        proc = _spawn(env, log)
        try:
            profiles, events = _events(messages, 50)
            _publish(nats.url, profiles)
            started = time.time()
            if mode == "relay_down":
                publisher = threading.Thread(target=_publish, args=(nats.url, events))
                publisher.start()
                time.sleep(2.0)
                sink.stop()
                time.sleep(outage)
                sink.start()
                publisher.join()
            else:
                publisher = threading.Thread(target=_publish, args=(nats.url, events))
                publisher.start()
                for _ in range(kills):
                    time.sleep(1.5)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    proc = _spawn(env, log)
                publisher.join()
            deadline = time.time() + 300
            while time.time() < deadline and sink.counts()[0] < messages:
                time.sleep(0.5)
            time.sleep(3.0)  # anything sent twice arrives by now
            distinct, duplicates = sink.counts()
            report[mode] = {
                "messages": messages,
                "emails_distinct": distinct,
                "missing": messages - distinct,
                "duplicates": duplicates,
                "all_arrived_s": round(time.time() - started - 3.0, 1),
                **({"outage_s": outage} if mode == "relay_down" else {"sigkills": kills}),
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            sink.stop()
            nats.stop()
    return report
