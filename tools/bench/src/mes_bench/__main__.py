"""``make bench``: the whole stack on a clean data directory, driven over HTTP from a separate
process, beside a trivial FastAPI endpoint measured in the same run with the same client.

Prints a table and writes the figures to ``var/bench/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from mes_contracts.ins import ins_key
from mes_dev.testing import free_port

from .load import percentile
from .stack import Stack, http_json, process_cpu_and_written

PROFESSIONAL = "dr.bench@hopital-bench.mssante.fr"
BODY_1KB = ("Bonjour, voici le compte rendu de votre consultation. " * 20)[:1024]


def patient_ins(n: int) -> str:
    nir = f"1850175{n:06d}"
    return nir + ins_key(nir)


def run_load_process(config: dict[str, Any]) -> dict[str, Any]:
    """One load process, in a session of its own, as a separate client machine would be: Linux
    shares the CPU between sessions first (autogroups), and two clients in one session would
    share one share (the probes then waited behind the senders' own load)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    try:
        out = subprocess.run(  # noqa: S603 - argv is our own interpreter and module
            [sys.executable, "-m", "mes_bench.load", path],
            capture_output=True,
            text=True,
            timeout=config.get("duration", 10) + 120,
            check=True,
            start_new_session=True,
        )
    finally:
        os.unlink(path)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def baseline(concurrency: int, duration: float) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - argv is our own interpreter and module
        [sys.executable, "-m", "mes_bench.baseline", str(port)]
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                status, _ = http_json("POST", f"http://127.0.0.1:{port}/echo", {"a": 1}, timeout=1)
                if status == 202:
                    break
            except OSError:
                time.sleep(0.1)
        body = {
            "from": PROFESSIONAL,
            "to": f"{patient_ins(1)}@patient.mssante.fr",
            "subject": "Résultats",
            "body": BODY_1KB,
        }
        return run_load_process(
            {
                "url": f"http://127.0.0.1:{port}/echo",
                "concurrency": concurrency,
                "duration": duration,
                "bodies": [body],
            }
        )
    finally:
        proc.terminate()
        proc.wait(10)


def prepare(stack: Stack, patients: int) -> dict[str, str]:
    _, ops = http_json("POST", stack.url + "/v1/dev/tokens", {"role": "ops"})
    ops_token = ops["access_token"]
    status, body = http_json(
        "PUT",
        stack.url + f"/v1/admin/mailboxes/{PROFESSIONAL}",
        {"type": "PER", "display_name": "Dr Bench", "rpps": "10101010101"},
        ops_token,
    )
    if status not in (200, 201):
        raise RuntimeError(f"could not register the professional: {status} {body}")
    for n in range(1, patients + 1):
        status, body = http_json(
            "PUT",
            stack.url + f"/v1/admin/patients/{patient_ins(n)}",
            {
                "state": "activated",
                "birth_name": "BENCH",
                "first_names": f"Patient{n}",
                "email": f"p{n}@example.org",
                "app_installed": True,
            },
            ops_token,
        )
        if status not in (200, 201):
            raise RuntimeError(f"could not create a patient: {status} {body}")
    _, pro = http_json(
        "POST",
        stack.url + "/v1/dev/tokens",
        {"role": "professional", "mailboxes": [PROFESSIONAL], "name": "Dr Bench"},
    )
    _, pat = http_json(
        "POST", stack.url + "/v1/dev/tokens", {"role": "patient", "ins": patient_ins(1)}
    )
    return {"pro": pro["access_token"], "patient": pat["access_token"]}


def send_load(
    stack: Stack,
    tokens: dict[str, str],
    patients: int,
    concurrency: int,
    duration: float,
    probe_ingress: str = "patients",
    *,
    probes: bool = True,
) -> dict[str, Any]:
    """Professionals' sends through the gateway, from one process (``concurrency`` clients
    that never pause); with ``probes``, beside it, in a process of its own as a patient's app
    is, the visibility probes: a message sent, then the patient's reads of the conversation
    until it is listed there, then the patient opens it (marking it read). The reads
    go through the patients' gateway, as the patients' apps reach it, or with
    ``probe_ingress`` "shared" through the gateway the sends saturate. In one process, the
    probes measured the load generator's own queue too (up to 30 ms of a probe's p99)."""
    reads = stack.patient_url if probe_ingress == "patients" else stack.url
    bodies = [
        {
            "from": PROFESSIONAL,
            "to": f"{patient_ins(1 + i % patients)}@patient.mssante.fr",
            "subject": f"Résultats {i}",
            "body": BODY_1KB,
        }
        for i in range(256)
    ]
    common = {
        "url": stack.url + "/v1/messages",
        "duration": duration,
        "headers": {"Authorization": f"Bearer {tokens['pro']}"},
    }
    senders = {**common, "concurrency": concurrency, "bodies": bodies}
    if not probes:
        return run_load_process(senders)
    probing = {
        **common,
        "concurrency": 0,
        "probe_get_template": reads + "/v1/me/conversations/{conversation_id}/messages?limit=5",
        "probe_open_template": reads + "/v1/me/messages/{id}",
        "probe_reads": {"conversations": reads + "/v1/me/conversations?limit=20"},
        "probe_headers": {"Authorization": f"Bearer {tokens['patient']}"},
        "probe_body": {
            "from": PROFESSIONAL,
            "to": f"{patient_ins(1)}@patient.mssante.fr",
            "subject": "Sonde",
            "body": BODY_1KB,
        },
    }
    with ThreadPoolExecutor(2) as pool:
        sent, probed = pool.map(run_load_process, [senders, probing])
    sent["sent_total"] += probed["sent_total"]  # the probes' messages cost CPU too
    sent["client_cpu_s"] = sent.get("client_cpu_s", 0.0) + probed.get("client_cpu_s", 0.0)
    sent["visibility"] = probed["visibility"]
    sent["open"] = probed.get("open", {})
    sent["reads"] = probed.get("reads", {})
    sent["probe_accepted_at"] = probed["probe_accepted_at"]
    return sent


def measured_send(
    stack: Stack,
    names: dict[int, str],
    run: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """``run`` (a send load) with the CPU each process of the stack, and the load generators,
    spent per message meanwhile."""
    assert stack.process is not None
    cpu_before, written_before = process_cpu_and_written(stack.process.pid, names)
    result = run()
    cpu_after, written_after = process_cpu_and_written(stack.process.pid, names)
    sent = max(1, int(result.get("sent_total", 0)))
    result["cpu_ms_per_message"] = {
        name: round(1000 * (cpu_after[name] - cpu_before.get(name, 0.0)) / sent, 3)
        for name in sorted(cpu_after)
    }
    # What each process wrote to disk per message: its databases' WAL and checkpoints.
    result["disk_kb_per_message"] = {
        name: round((written - written_before.get(name, 0.0)) / 1024 / sent, 2)
        for name, written in sorted(written_after.items())
        if written > written_before.get(name, 0.0)
    }
    client_cpu = float(result.get("client_cpu_s", 0.0))
    result["cpu_ms_per_message"]["load generator"] = round(1000 * client_cpu / sent, 3)
    # Of the machine's cores, how many the stack and the load generators kept busy while the
    # load ran: near os.cpu_count(), the stack is short of CPU, not waiting.
    # (The stack is idle while a load generator starts, outside its elapsed time.)
    stack_cpu = sum(cpu_after[n] - cpu_before.get(n, 0.0) for n in cpu_after)
    elapsed = float(result.get("elapsed_s") or 0.0)
    if elapsed > 0:
        result["cores_busy"] = round((stack_cpu + client_cpu) / elapsed, 2)
    return result


def stored_after_accept(mailbox_db: Path, accepted_at: dict[str, float]) -> dict[str, Any]:
    """For the probes' messages: how long after the client got the ``202`` the mailbox stored
    the patient's copy (its ``delivered_at``, taken in the transaction that lists it; 0 when
    it was stored before the ``202`` reached the client). The patient's ``GET`` adds its own
    round trip to this."""
    if not accepted_at or not mailbox_db.exists():
        return {"samples": 0}
    ids = list(accepted_at)
    marks = ",".join("?" * len(ids))
    with closing(sqlite3.connect(f"file:{mailbox_db}?mode=ro", uri=True)) as db:
        rows = db.execute(
            f"SELECT message_id, delivered_at FROM messages "  # noqa: S608 - placeholders only
            f"WHERE folder = 'inbox' AND message_id IN ({marks})",
            ids,
        ).fetchall()
    delays = []
    for message_id, delivered_at in rows:
        stored = datetime.fromisoformat(delivered_at).replace(tzinfo=UTC).timestamp()
        delays.append(max(0.0, stored - accepted_at[message_id]))
    if not delays:
        return {"samples": 0}
    return {
        "samples": len(delays),
        **{f"p{p}_ms": round(percentile(delays, p) * 1000, 2) for p in (50, 99)},
        "max_ms": round(max(delays) * 1000, 2),
    }


def listing_bench() -> dict[str, Any]:
    """The mailbox service's own listing bench (100,000 messages seeded, 200 page reads),
    run as a separate process; its printed lines are kept as they are."""
    script = Path(__file__).resolve().parents[4] / "services" / "mailbox" / "bench_listing.py"
    if not script.exists():
        return {"skipped": f"{script} not found"}
    out = subprocess.run(  # noqa: S603 - our own script, our own interpreter
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, check=False
    )
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return {"output": lines, "returncode": out.returncode}


def _figures(r: dict[str, Any]) -> tuple[Any, Any, Any]:
    return r["throughput_rps"], r["p50_ms"], r["p99_ms"]


def fmt(v: Any) -> str:
    return f"{v:,.1f}" if isinstance(v, float) else str(v)


def main() -> None:
    parser = argparse.ArgumentParser(prog="mes-bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument(
        "--runs", type=int, default=1, help="stacks started one after the other, each measured"
    )
    parser.add_argument(
        "--no-listing", action="store_true", help="skip the listing of a page of 50 in 100,000"
    )
    parser.add_argument(
        "--probe-ingress",
        choices=("patients", "shared"),
        default="patients",
        help="where the patient's reads go: the patients' gateway (as deployed) or the gateway "
        "the professionals' sends saturate",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("var/bench"))
    parser.add_argument(
        "--notifications",
        action="store_true",
        help="measure instead: a message's 202 to the patient's e-mail accepted by the SMTP "
        "server, idle and under the senders' full load (see mes_bench.notifications)",
    )
    parser.add_argument(
        "--notification-faults",
        action="store_true",
        help="measure instead: e-mails missing or duplicated with the relay down, and with "
        "the notifier killed during a burst",
    )
    parser.add_argument("--fault-messages", type=int, default=5000)
    parser.add_argument("--relay-outage", type=float, default=60.0)
    args = parser.parse_args()
    if args.notifications or args.notification_faults:
        _notifications(args)
        return

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "when": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "probe_ingress": args.probe_ingress,
    }
    print(
        f"baseline: trivial FastAPI POST, c={args.concurrency}, {args.duration:.0f}s ...",
        flush=True,
    )
    report["baseline"] = baseline(args.concurrency, args.duration)
    report["send"] = {}
    for transport in [f"run {n}" for n in range(1, args.runs + 1)]:
        data_dir = args.out_dir / f"run-{stamp}-{transport.split()[-1]}"
        stack = Stack(data_dir)
        print(f"stack ({transport}): starting on a clean {data_dir} ...", flush=True)
        ready_s = stack.start()
        try:
            tokens = prepare(stack, args.patients)
            names = stack.process_names()
            # First the senders alone: the throughput and the accept latency, with nothing
            # else on the machine. Then the same load with the patient's probes beside it:
            # how soon the patient sees a message, and what the patient's reads cost the
            # senders (each probe polls every 2 ms until its message is listed, then opens
            # it and lists the conversations).
            print(
                f"POST /v1/messages 1 KB, c={args.concurrency}, {args.duration:.0f}s ...",
                flush=True,
            )
            load = partial(send_load, stack, tokens, args.patients, args.concurrency, args.duration)
            alone = measured_send(stack, names, partial(load, probes=False))
            print("the same, with a patient's app reading beside it ...", flush=True)
            probed = measured_send(stack, names, partial(load, args.probe_ingress))
            probed["stored_after_accept"] = stored_after_accept(
                data_dir / "mailbox.db", probed.pop("probe_accepted_at", {})
            )
            report["send"][transport] = {
                **alone,
                "with_patient_reads": probed,
                "stack_ready_s": round(ready_s, 1),
            }
        finally:
            stack.stop()
    report["listing"] = {}
    if not args.no_listing:
        print("listing: page of 50 among 100,000 messages ...", flush=True)
        report["listing"] = listing_bench()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    b = report["baseline"]
    rows = [("trivial FastAPI POST (baseline)", b["throughput_rps"], b["p50_ms"], b["p99_ms"], "")]
    for transport, r in report["send"].items():
        rows.append((f"POST /v1/messages, {transport}", *_figures(r), "the senders alone"))
        p = r["with_patient_reads"]
        vis, stored = p.get("visibility", {}), p.get("stored_after_accept", {})
        rows.append(
            (
                "  with a patient's app reading",
                *_figures(p),
                f"visible ({report['probe_ingress']} gateway) p50 {vis.get('p50_ms')}"
                f" / p99 {vis.get('p99_ms')} ms"
                f" ({vis.get('samples')} samples, {vis.get('failures')} missed);"
                f" stored p50 {stored.get('p50_ms')} / p99 {stored.get('p99_ms')} ms;"
                f" opening it p50 {p.get('open', {}).get('p50_ms')}"
                f" / p99 {p.get('open', {}).get('p99_ms')} ms",
            )
        )
    print()
    print(f"{'measure':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  notes")
    for name, rps, p50, p99, note in rows:
        print(f"{name:42} {fmt(rps):>9} {fmt(p50):>8} {fmt(p99):>8}  {note}")
    for transport, r in report["send"].items():
        for name, read in r["with_patient_reads"].get("reads", {}).items():
            print(
                f"patient's {name} under the load, {transport}: p50 {read.get('p50_ms')}"
                f" / p99 {read.get('p99_ms')} ms ({read.get('samples')} samples)"
            )
    for transport, r in report["send"].items():
        for label, phase in (("alone", r), ("with the patient's app", r["with_patient_reads"])):
            cpu = phase.get("cpu_ms_per_message") or {}
            parts = ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
            print(f"CPU per message, {transport}, {label} (ms): {parts}")
            disk = phase.get("disk_kb_per_message") or {}
            if disk:
                parts = ", ".join(f"{name} {kb:.1f}" for name, kb in disk.items())
                print(f"  written to disk per message (KB): {parts}")
            print(
                f"  cores busy: {phase.get('cores_busy')} of {report['machine']['cpus']}",
            )
    for line in report["listing"].get("output", []):
        print(f"listing: {line}")
    print(f"\nfigures written to {out}")


def _notifications(args: argparse.Namespace) -> None:
    from .notifications import fault_runs, latency_under_load

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {"when": stamp, "machine": {"cpus": os.cpu_count()}}
    if args.notifications:
        print(f"notifications: 202 -> e-mail, c={args.concurrency}, {args.duration:.0f}s ...")
        report["latency"] = latency_under_load(
            args.out_dir / f"run-{stamp}-notifications",
            args.patients,
            args.concurrency,
            args.duration,
            send_load,
            prepare,
        )
        print(json.dumps(report["latency"], indent=2))
    if args.notification_faults:
        print(f"notification faults: {args.fault_messages} messages ...", flush=True)
        report["faults"] = fault_runs(
            args.out_dir / f"run-{stamp}-faults", args.fault_messages, args.relay_outage, 3
        )
        print(json.dumps(report["faults"], indent=2))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{stamp}-notifications.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
