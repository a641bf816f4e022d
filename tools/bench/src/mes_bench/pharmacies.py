"""``python -m mes_bench.pharmacies``: the pharmacy directory at national size.

For each engine (SQLite, PostgreSQL): starts NATS, the pharmacy-directory service and the
gateway as processes, imports a generated 22,000-pharmacy FINESS extract with
``mes-admin import-finess`` (lines/s, the command's peak resident memory), then a 500,000-line
extract of all categories; then, in this process, times the service's own search (words,
postal code, nearest 10 to a point) and a patient's default pharmacies on that database.
Baseline in the same run: a primary-key lookup of one pharmacy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from mes_admin.finess_gen import CITIES, write_extract
from mes_contracts.addresses import MailboxType
from mes_contracts.ins import ins_key
from mes_dev.testing import NatsServer, free_port
from mes_dev.testing.postgres import PostgresDatabase
from mes_pharmacy_directory.domain.pharmacy import GeoPoint
from mes_pharmacy_directory.main import create_app
from mes_pharmacy_directory.service.directory import DirectoryService, RegisterMailbox
from mes_pharmacy_directory.service.pharmacies import PharmacySearch, PharmacyService
from mes_pharmacy_directory.service.ports import PharmacyFilter
from mes_pharmacy_directory.settings import DirectorySettings

from .load import percentile

__all__ = ["main"]

_WORDS = ("gare", "pasteur", "centre", "marche", "eglise", "halles", "principale", "parc")
MES_ADMIN = [sys.executable, "-c", "import sys; from mes_admin.cli import main; sys.exit(main())"]


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


@contextmanager
def _stack(work: Path, database_url: str) -> Iterator[tuple[str, str]]:
    nats = NatsServer(work / "nats")
    nats.start()
    directory_port, gateway_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        (work / "directory").mkdir(exist_ok=True)
        specs = [
            (
                "mes_pharmacy_directory",
                {
                    "MES_DIRECTORY_PORT": str(directory_port),
                    "MES_DIRECTORY_DATA_DIR": str(work / "directory"),
                    "MES_DIRECTORY_DATABASE_URL": database_url,
                    "MES_DIRECTORY_NATS_URL": nats.url,
                    "MES_DIRECTORY_LOG_LEVEL": "WARNING",
                },
                f"http://127.0.0.1:{directory_port}/readyz",
            ),
            (
                "mes_gateway",
                {
                    "MES_GATEWAY_PORT": str(gateway_port),
                    "MES_GATEWAY_DIRECTORY_URL": f"http://127.0.0.1:{directory_port}",
                    "MES_GATEWAY_ENVIRONMENT": "development",
                    "MES_GATEWAY_LOG_LEVEL": "WARNING",
                },
                f"http://127.0.0.1:{gateway_port}/healthz",
            ),
        ]
        for module, env, ready in specs:
            log = work / f"{module}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(  # noqa: S603 (our own modules)
                    [sys.executable, "-m", module],
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            _wait(ready, process, log)
        yield f"http://127.0.0.1:{gateway_port}", nats.url
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        nats.stop()


def _peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def _import(gateway: str, extract: Path) -> dict[str, Any]:
    """``mes-admin import-finess``: wall time, lines/s and its peak resident memory."""
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "MES_ADMIN_TOKEN"}
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [*MES_ADMIN, "import-finess", "--gateway", gateway, "--no-progress", str(extract)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _peak_rss_kib(process.pid))
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"import failed ({process.returncode}): {stderr[-2000:]}")
    lines = sum(1 for _ in extract.open("rb"))
    return {
        "lines": lines,
        "seconds": round(elapsed, 2),
        "lines_per_s": round(lines / elapsed),
        "peak_rss_mib": round(peak / 1024, 1),
        "summary": stderr.strip().splitlines()[-1],
    }


async def _timed(call: Callable[[], Awaitable[object]], n: int) -> dict[str, float]:
    for _ in range(min(20, n)):
        await call()  # warm the caches and the connection pool
    latencies = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t)
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


async def _searches(work: Path, database_url: str, nats_url: str, queries: int) -> dict[str, Any]:
    settings = DirectorySettings(
        data_dir=work / "directory", database_url=database_url, nats_url=nats_url
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service: PharmacyService = app.state.pharmacies
        directory: DirectoryService = app.state.directory
        rng = random.Random(7)
        everything = await service.search(PharmacySearch(PharmacyFilter(), None, 100))
        # Organisational mailboxes for one pharmacy in ten, a history for 50 patients.
        page, finesses = everything, list[str]()
        while True:
            finesses.extend(f.pharmacy.finess for f in page.items)
            if page.next_cursor is None or len(finesses) >= 3000:
                break
            page = await service.search(
                PharmacySearch(PharmacyFilter(), None, 100, page.next_cursor)
            )
        for i, finess in enumerate(finesses[::10]):
            await directory.register(
                RegisterMailbox(
                    f"officine{i}@pharmacie-bench.mssante.fr",
                    MailboxType.ORG,
                    f"Pharmacie {i}",
                    None,
                    finess,
                    True,
                )
            )
        patients: list[str] = []
        today = date.today()
        for n in range(50):
            ins = f"18501750{n:05d}" + ins_key(f"18501750{n:05d}")
            items = [(rng.choice(finesses), today - timedelta(days=rng.randint(0, 500)))]
            items += [
                (rng.choice(finesses[::10]), today - timedelta(days=rng.randint(0, 300)))
                for _ in range(4)
            ]
            await service.replace_dispensations(ins, items)
            patients.append(ins)

        async def words() -> object:
            text = f"{rng.choice(_WORDS)} {rng.choice(CITIES)[0].split('-')[0].lower()}"
            return await service.search(
                PharmacySearch(PharmacyFilter(tuple(text.split())), None, 10)
            )

        async def postal() -> object:
            return await service.search(
                PharmacySearch(PharmacyFilter(postal_code=rng.choice(CITIES)[1]), None, 10)
            )

        async def nearest() -> object:
            _, _, _, lat, lon, _ = rng.choice(CITIES)
            point = GeoPoint(lat + rng.gauss(0, 0.05), lon + rng.gauss(0, 0.05))
            return await service.search(PharmacySearch(PharmacyFilter(), point, 10))

        async def defaults() -> object:
            return await service.defaults(rng.choice(patients))

        async def by_key() -> object:
            return await service.get(rng.choice(finesses))

        return {
            "baseline_get_one": await _timed(by_key, queries),
            "words": await _timed(words, queries),
            "postal_code": await _timed(postal, queries),
            "nearest_10": await _timed(nearest, queries),
            "default_pharmacies": await _timed(defaults, queries),
        }


def _engine(name: str, work: Path, extracts: list[Path], queries: int) -> dict[str, Any]:
    database: PostgresDatabase | None = None
    if name == "postgres":
        database = PostgresDatabase()
        asyncio.run(database.create())
        url = database.url
    else:
        url = f"sqlite+aiosqlite:///{work / 'directory' / 'directory.db'}"
    try:
        with _stack(work, url) as (gateway, nats_url):
            imports = [_import(gateway, extract) for extract in extracts]
            figures = asyncio.run(_searches(work, url, nats_url, queries))
        return {"imports": imports, "service": figures, "load_average": os.getloadavg()}
    finally:
        if database is not None:
            asyncio.run(database.drop())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mes_bench.pharmacies", description=__doc__)
    parser.add_argument("--pharmacies", type=int, default=22_000)
    parser.add_argument(
        "--big-lines", type=int, default=500_000, help="0: skip the all-categories import"
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}}
    with tempfile.TemporaryDirectory(prefix="mes-bench-pharmacies-") as tmp:
        root = Path(tmp)
        national = root / "finess-national.csv"
        big = root / "finess-all-categories.csv"
        write_extract(national, args.pharmacies)
        extracts = [national]
        if args.big_lines > 0:
            # Geolocalisation lines count: half the other lines are establishments, half
            # positions.
            other = max(0, args.big_lines - 2 * args.pharmacies - 1)
            write_extract(big, args.pharmacies, other_lines=other)
            extracts.append(big)
        for engine in args.engines.split(","):
            work = root / engine
            work.mkdir()
            results[engine] = _engine(engine, work, extracts, args.queries)
            print(json.dumps({engine: results[engine]}, indent=2), flush=True)
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"pharmacies-{int(time.time())}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
