"""``mes-admin import-finess`` and ``import-dispensations``: the pharmacies of the FINESS
extract and patients' dispensing history, sent to the gateway's admin API in batches."""

from __future__ import annotations

import asyncio
import csv
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import httpx
from tqdm import tqdm

from .finess import FinessPharmacy, RejectedLine, read_extract

__all__ = ["DispensationImport", "FinessImport", "ImportFailed"]

BATCH = 500
IN_FLIGHT = 2
_RETRIED_STATUSES = {429, 502, 503, 504}


class ImportFailed(Exception):
    """The gateway refused the token, or kept failing: nothing more is sent."""


async def _send(call: Callable[[], Awaitable[httpx.Response]], attempts: int = 5) -> httpx.Response:
    """One call, retried on connection errors and 429/502/503/504 (honouring Retry-After)."""
    for attempt in range(attempts):
        try:
            response = await call()
        except httpx.TransportError as error:
            if attempt == attempts - 1:
                raise ImportFailed(f"gateway unreachable: {error}") from error
            await asyncio.sleep(0.2 * 2**attempt)
            continue
        if response.status_code in (401, 403):
            raise ImportFailed(f"the token was refused (HTTP {response.status_code})")
        if response.status_code in _RETRIED_STATUSES and attempt < attempts - 1:
            wait = response.headers.get("Retry-After", "")
            await asyncio.sleep(float(wait) if wait.isdigit() else 0.2 * 2**attempt)
            continue
        return response
    raise AssertionError("unreachable")


class _Progress:
    """Bytes read of the file, on standard error, when it is a terminal."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.bar = tqdm(
            total=total, unit="B", unit_scale=True, disable=not enabled, file=sys.stderr
        )

    def lines(self, stream: IO[bytes]) -> Iterator[bytes]:
        for raw in stream:
            self.bar.update(len(raw))
            yield raw

    def close(self) -> None:
        self.bar.close()


@dataclass
class FinessImport:
    http: httpx.AsyncClient
    out: IO[str] = field(default_factory=lambda: sys.stderr)
    progress: bool = True
    close_absent: bool = True
    lines_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)

    def run(self, path: Path) -> bool:
        """Import the extract; True when every line was imported."""
        size = path.stat().st_size
        started = time.monotonic()
        progress = _Progress(size, self.progress)
        try:
            with path.open("rb") as stream:
                counted = self._counted(progress.lines(stream))
                pharmacies = list(read_extract(counted, self.rejected))
        finally:
            progress.close()
        asyncio.run(self._send_all(pharmacies))
        elapsed = time.monotonic() - started
        for r in sorted(self.rejected, key=lambda r: r.line):
            print(f"line {r.line}: {r.finess or '-'}: {r.reason}", file=self.out)
        rate = self.lines_read / elapsed if elapsed > 0 else 0.0
        print(
            f"{self.lines_read} lines read in {elapsed:.1f} s ({rate:,.0f} lines/s): "
            f"{len(pharmacies)} pharmacies, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} lines rejected, "
            f"{self.closed} closed (absent from this extract)",
            file=self.out,
        )
        return not self.rejected

    def _counted(self, lines: Iterator[bytes]) -> Iterator[bytes]:
        for raw in lines:
            self.lines_read += 1
            yield raw

    async def _send_all(self, pharmacies: list[FinessPharmacy]) -> None:
        run = f"finess-{date.today():%Y%m%d}-{uuid.uuid4().hex[:12]}"
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(batch: list[FinessPharmacy]) -> None:
            async with gate:
                response = await _send(
                    lambda: self.http.post(
                        "/v1/admin/pharmacies/batches",
                        json={"run": run, "pharmacies": [p.record() for p in batch]},
                    )
                )
            if response.status_code != 200:
                raise ImportFailed(
                    f"a batch was refused (HTTP {response.status_code}): {response.text[:300]}"
                )
            body = response.json()
            self.created += body["created"]
            self.updated += body["updated"]
            self.unchanged += body["unchanged"]
            for r in body["rejected"]:
                p = batch[r["index"]]
                self.rejected.append(RejectedLine(p.line, p.finess, r["detail"]))

        batches = [pharmacies[i : i + BATCH] for i in range(0, len(pharmacies), BATCH)]
        await asyncio.gather(*(one(b) for b in batches))
        if self.close_absent:
            response = await _send(
                lambda: self.http.post(f"/v1/admin/pharmacies/imports/{run}/close-absent")
            )
            if response.status_code != 200:
                raise ImportFailed(f"closing the absent pharmacies failed: {response.text[:300]}")
            self.closed = int(response.json()["closed"])


@dataclass
class DispensationImport:
    """A CSV ``ins,finess,date`` (header row; date as YYYY-MM-DD): each patient's whole
    history is replaced by the lines of the file that name them."""

    http: httpx.AsyncClient
    out: IO[str] = field(default_factory=lambda: sys.stderr)
    patients: int = 0
    dispensations: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def run(self, path: Path) -> bool:
        by_patient: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            missing = {"ins", "finess", "date"} - set(reader.fieldnames or ())
            if missing:
                raise ImportFailed(f"the header lacks {', '.join(sorted(missing))}")
            for row in reader:
                line = reader.line_num
                ins, finess = (row.get("ins") or "").strip(), (row.get("finess") or "").strip()
                try:
                    on = date.fromisoformat((row.get("date") or "").strip())
                except ValueError:
                    self.rejected.append((line, "date is not YYYY-MM-DD"))
                    continue
                if not ins or not finess:
                    self.rejected.append((line, "ins and finess are required"))
                    continue
                by_patient.setdefault(ins, []).append(
                    (line, {"finess": finess, "date": on.isoformat()})
                )
        asyncio.run(self._send_all(by_patient))
        for line, reason in sorted(self.rejected):
            print(f"line {line}: {reason}", file=self.out)
        print(
            f"{self.patients} patients, {self.dispensations} dispensations imported, "
            f"{len(self.rejected)} lines rejected",
            file=self.out,
        )
        return not self.rejected

    async def _send_all(self, by_patient: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
        gate = asyncio.Semaphore(8)

        async def one(ins: str, rows: list[tuple[int, dict[str, Any]]]) -> None:
            body = {"dispensations": [r for _, r in rows]}
            async with gate:
                response = await _send(
                    lambda: self.http.put(f"/v1/admin/patients/{ins}/dispensations", json=body)
                )
            if response.status_code == 200:
                self.patients += 1
                self.dispensations += int(response.json()["count"])
                return
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            index = problem.get("index")
            lines = [rows[index][0]] if isinstance(index, int) else [n for n, _ in rows]
            reason = f"{problem.get('code', response.status_code)}: {problem.get('detail', '')}"
            self.rejected.extend((n, f"{ins}: {reason}") for n in lines)

        await asyncio.gather(*(one(ins, rows) for ins, rows in by_patient.items()))
