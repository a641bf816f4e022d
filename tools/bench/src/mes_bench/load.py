"""The load generator: a separate process driving HTTP with N concurrent clients for a fixed time.

``python -m mes_bench.load CONFIG.json`` prints one JSON result line. Bounded in time and
count, loopback only. It shares the machine with what it measures, so it spends as little as
it can: it runs on uvloop, and each sender is one keep-alive connection that writes its
requests encoded once, whole, and reads the answers with httptools' parser (the one uvicorn
serves with), without a client library's per-request work above it. The probes, a few requests
a second that read the answers' JSON, use an aiohttp session.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import httptools
import uvloop

__all__ = ["LoadConfig", "SenderConnection", "encode_post", "percentile", "run_load"]

MAX_REQUESTS = 2_000_000


def encode_post(url: str, headers: dict[str, str], body: bytes) -> bytes:
    """One whole HTTP/1.1 POST that keeps the connection open."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    fields = {"Host": parts.netloc, "Content-Length": str(len(body)), **headers}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"POST {target} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body


class SenderConnection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection for one sender: one request at a time, answered with
    its status (the body is read and dropped)."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.WriteTransport | None = None
        self._answer: asyncio.Future[int] | None = None
        self.closed = False

    @classmethod
    async def open(cls, url: str) -> SenderConnection:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, parts.hostname or "", parts.port or 80)
        return connection

    async def request(self, raw: bytes) -> int:
        assert self._transport is not None and not self.closed
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(raw)
        return await self._answer

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not registered as asyncio's WriteTransport class).
        self._transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    # httptools' callbacks
    def on_message_complete(self) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_result(self._parser.get_status_code())
        if not self._parser.should_keep_alive():
            self.close()

    def _fail(self, exc: BaseException) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(exc)


@dataclass
class LoadConfig:
    url: str  # full URL of the POST target
    concurrency: int = 32
    duration: float = 10.0
    warmup: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # cycled
    # Visibility probe: after each probe's 202, poll GET probe_get_template.format(id=...,
    # conversation_id=...) with probe_headers until the answer's ``items`` list the message;
    # records the delay from the 202 until it is listed. Then, with probe_open_template
    # (``{id}``), opens it once and records that request's latency.
    probe_get_template: str | None = None
    probe_open_template: str | None = None
    # Then each of these reads (name -> URL), once, timed: the patient's other screens.
    probe_reads: dict[str, str] = field(default_factory=dict)
    probe_headers: dict[str, str] = field(default_factory=dict)
    probe_body: dict[str, Any] | None = None
    probe_interval: float = 0.05
    probe_poll: float = 0.002
    probes: int = 3  # concurrent probes: about 60 samples per second of load, for a steadier p99


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p90_ms": round(percentile(latencies, 90) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else float("nan"),
    }


async def run_load(cfg: LoadConfig) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=cfg.concurrency + cfg.probes + 4, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    sent = 0
    start = time.perf_counter()
    measure_from = start + cfg.warmup
    deadline = measure_from + cfg.duration
    visibility: list[float] = []
    opened: list[float] = []
    reads: dict[str, list[float]] = {name: [] for name in cfg.probe_reads}
    probe_failures = 0
    accepted: dict[str, float] = {}  # probe message id -> wall-clock time of its 202

    post_headers = {**cfg.headers, "Content-Type": "application/json"}
    requests = [
        encode_post(cfg.url, post_headers, json.dumps(body).encode()) for body in cfg.bodies
    ] or [encode_post(cfg.url, post_headers, b"{}")]
    cpu_start = time.process_time()

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(n: int) -> None:
            nonlocal errors, sent
            i = n
            connection: SenderConnection | None = None
            while True:
                now = time.perf_counter()
                if now >= deadline or sent >= MAX_REQUESTS:
                    if connection is not None:
                        connection.close()
                    return
                raw = requests[i % len(requests)]
                i += cfg.concurrency
                t0 = time.perf_counter()
                try:
                    if connection is None or connection.closed:
                        connection = await SenderConnection.open(cfg.url)
                    async with asyncio.timeout(30):
                        status = await connection.request(raw)
                except Exception:
                    errors += 1
                    if connection is not None:
                        connection.close()
                    connection = None
                    await asyncio.sleep(0.01)
                    continue
                t1 = time.perf_counter()
                sent += 1
                if t0 >= measure_from and t1 <= deadline:
                    statuses[status] = statuses.get(status, 0) + 1
                    if 200 <= status < 300:
                        latencies.append(t1 - t0)

        async def timed_read(url: str, into: list[float] | None) -> None:
            """GET ``url`` as the patient; its latency goes ``into`` the list if it is 200."""
            t0 = time.perf_counter()
            async with session.get(url, headers=cfg.probe_headers) as r:
                await r.read()
            if into is not None and r.status == 200:
                into.append(time.perf_counter() - t0)

        async def probe() -> None:
            nonlocal probe_failures, sent
            assert cfg.probe_get_template is not None and cfg.probe_body is not None
            # Probes run through the warm-up too, unrecorded: the first read of each one pays
            # for new connections and the services' first request on that path (about 100 ms,
            # three samples of a run's p99 otherwise), which a warm system never shows.
            while time.perf_counter() + 1.0 < deadline:
                try:
                    async with session.post(
                        cfg.url, json=cfg.probe_body, headers=cfg.headers
                    ) as resp:
                        data = await resp.json()
                        accepted_at = time.perf_counter()
                        accepted_wall = time.time()
                    message_id = data["message_id"]
                    recorded = accepted_at >= measure_from
                    if recorded:
                        accepted[message_id] = accepted_wall
                    sent += 1  # a message too: counted in the CPU per message
                    get_url = cfg.probe_get_template.format(
                        id=message_id, conversation_id=data["conversation_id"]
                    )
                    seen = False
                    while time.perf_counter() - accepted_at < 5.0:
                        async with session.get(get_url, headers=cfg.probe_headers) as r:
                            listed = await r.json() if r.status == 200 else {}
                        if any(item["id"] == message_id for item in listed.get("items", ())):
                            if recorded:
                                visibility.append(time.perf_counter() - accepted_at)
                            seen = True
                            break
                        await asyncio.sleep(cfg.probe_poll)
                    if not seen and recorded:
                        probe_failures += 1
                    if seen and cfg.probe_open_template:
                        open_url = cfg.probe_open_template.format(id=message_id)
                        await timed_read(open_url, opened if recorded else None)
                    for name, url in cfg.probe_reads.items():
                        await timed_read(url, reads[name] if recorded else None)
                except Exception:
                    if time.perf_counter() >= measure_from:
                        probe_failures += 1
                await asyncio.sleep(cfg.probe_interval)

        tasks = [asyncio.create_task(worker(n)) for n in range(cfg.concurrency)]
        if cfg.probe_get_template:
            tasks.extend(asyncio.create_task(probe()) for _ in range(cfg.probes))
        await asyncio.gather(*tasks)

    ok = len(latencies)
    result: dict[str, Any] = {
        "concurrency": cfg.concurrency,
        "duration_s": cfg.duration,
        "ok": ok,
        "throughput_rps": round(ok / cfg.duration, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_errors": errors,
        "sent_total": sent,  # warm-up and probes included
        # What the load generator itself took of the machine it shares with the stack.
        "client_cpu_s": round(time.process_time() - cpu_start, 3),
        "elapsed_s": round(time.perf_counter() - start, 3),
        **_summary(latencies),
    }
    if cfg.probe_get_template:
        result["visibility"] = {
            "samples": len(visibility),
            "failures": probe_failures,
            **_summary(visibility),
        }
        if cfg.probe_open_template:
            result["open"] = {"samples": len(opened), **_summary(opened)}
        result["reads"] = {
            name: {"samples": len(times), **_summary(times)} for name, times in reads.items()
        }
        result["probe_accepted_at"] = accepted
    return result


def main() -> None:
    raw = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = uvloop.run(run_load(LoadConfig(**raw)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
