"""Listing benchmark: one page of 50 in a mailbox of 100,000 messages.

Seeds a fresh database (executemany), then times 200 page reads starting at random depths,
through the service layer and through the HTTP handler (in-process ASGI), and prints p50/p99.

    .venv/bin/python services/mailbox/bench_listing.py [--database-url URL] [--messages N]

Without ``--database-url`` it uses a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from mes_mailbox.adapters.tables import attachments, mailboxes, message_attachments, messages
from mes_mailbox.domain.messages import Cursor, Folder
from mes_mailbox.main import create_app
from mes_mailbox.settings import MailboxSettings
from mes_platform.migrations import upgrade_to_head

PATIENT = "279035121518989@patient.mssante.fr"
DOCTOR = "dr.martin@hopital-exemple.mssante.fr"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PAGE = 50


def _rows(mailbox: str, n: int, folder: str, prefix: str) -> list[dict[str, object]]:
    rows = []
    for i in range(n):
        sent_at = T0 + timedelta(seconds=i * 7 // 3)  # some ties on sent_at, on purpose
        rows.append(
            {
                "mailbox_address": mailbox,
                "message_id": f"{prefix}-{i:07d}",
                "folder": folder,
                "kind": "message",
                "conversation_id": f"conv-{i % 500}",
                "subject": f"Résultats n°{i}",
                "body": "Bonjour, voici vos résultats. " * 8,
                "sender_address": DOCTOR,
                "sender_display_name": "Dr Martin",
                "recipient_address": PATIENT,
                "recipient_display_name": "Marie Dupont",
                "sent_at": sent_at,
                "delivered_at": sent_at,
                "read_at": sent_at if i % 3 else None,
                "read_receipt_requested": False,
                "in_reply_to": None,
                "status": "accepted" if folder == "sent" else None,
                "bounce_reason": None,
            }
        )
    return rows


def _percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {ms[-1]:.2f} ms"


async def run(database_url: str, n: int, reads: int, data_dir: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = MailboxSettings(
            data_dir=Path(data_dir or tmp),
            database_url=database_url,
            log_json=False,
            log_level="WARNING",
        )
        app = create_app(settings)
        runtime = app.state.runtime
        await upgrade_to_head(runtime.db, runtime.migrations)

        started = time.perf_counter()
        async with runtime.db.transaction() as conn:
            await conn.execute(
                mailboxes.insert(),
                [
                    {"address": PATIENT, "kind": "patient", "created_at": T0},
                    {"address": DOCTOR, "kind": "bal", "created_at": T0},
                ],
            )
            # The mailbox under test, and as many rows in another one beside it.
            for mailbox, folder, prefix in ((PATIENT, "inbox", "in"), (DOCTOR, "sent", "out")):
                rows = _rows(mailbox, n, folder, prefix)
                for i in range(0, n, 5000):
                    await conn.execute(messages.insert(), rows[i : i + 5000])
            # One message in ten carries an attachment: pages then pay the attachments query.
            await conn.execute(
                attachments.insert(),
                [
                    {
                        "id": "att-1",
                        "sha256": "0" * 64,
                        "size": 1000,
                        "content_type": "application/pdf",
                        "filename": "ordonnance.pdf",
                        "uploaded_by": DOCTOR,
                        "created_at": T0,
                    }
                ],
            )
            await conn.execute(
                message_attachments.insert(),
                [
                    {
                        "mailbox_address": PATIENT,
                        "message_id": f"in-{i:07d}",
                        "attachment_id": "att-1",
                        "position": 0,
                    }
                    for i in range(0, n, 10)
                ],
            )
        seeded = time.perf_counter() - started
        print(
            f"engine {runtime.db.url.get_backend_name()}: seeded {2 * n} rows "
            f"in {seeded:.1f} s ({2 * n / seeded:,.0f} rows/s)"
        )

        rng = random.Random(7)
        cursors = []
        for _ in range(reads):
            i = rng.randrange(PAGE, n)
            cursors.append(Cursor(T0 + timedelta(seconds=i * 7 // 3), f"in-{i:07d}").encode())

        service = app.state.mailboxes
        for cursor in cursors[:20]:  # warm caches and the connection pool
            await service.page(
                PATIENT, folder=Folder.INBOX, conversation_id=None, cursor=cursor, limit=PAGE
            )
        samples = []
        cpu = time.process_time()
        for cursor in cursors:
            t = time.perf_counter()
            page = await service.page(
                PATIENT, folder=Folder.INBOX, conversation_id=None, cursor=cursor, limit=PAGE
            )
            samples.append(time.perf_counter() - t)
            assert len(page.items) == PAGE
        cpu_ms = (time.process_time() - cpu) / reads * 1000
        # CPU per page (all threads) tells the cost apart from waiting for a busy machine.
        print(
            f"service layer, {reads} pages of {PAGE}: {_percentiles(samples)}  "
            f"cpu {cpu_ms:.2f} ms/page"
        )

        transport = httpx.ASGITransport(app=app)
        headers = {"X-Internal-Token": settings.internal_token.get_secret_value()}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://b", headers=headers
        ) as client:
            samples = []
            for cursor in [None, *cursors[1:]]:
                params = {"folder": "inbox", "limit": PAGE} | ({"cursor": cursor} if cursor else {})
                t = time.perf_counter()
                r = await client.get(f"/internal/mailboxes/{PATIENT}/messages", params=params)
                samples.append(time.perf_counter() - t)
                assert r.status_code == 200 and len(r.json()["items"]) == PAGE
        print(f"HTTP handler (in-process), {reads} pages of {PAGE}: {_percentiles(samples)}")
        await runtime.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--data-dir", default=None, help="keep the SQLite file here")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.messages, args.reads, args.data_dir))


if __name__ == "__main__":
    main()
