"""Delivery benchmark: how many MessageAccepted events per second the consumer stores.

Starts a real nats-server, publishes N events to JetStream, then starts the service and
times until every recipient copy is stored.

    .venv/bin/python services/mailbox/bench_delivery.py [--events N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted
from mes_contracts.events.parties import Party, PartyKind
from mes_dev.testing import NatsServer
from mes_mailbox.adapters.tables import messages
from mes_mailbox.main import create_app
from mes_mailbox.settings import MailboxSettings
from mes_platform.bus import EventBus

DOCTOR = Party(
    address="dr.martin@hopital-exemple.mssante.fr",
    kind=PartyKind.PROFESSIONAL,
    display_name="Dr Martin",
)
PATIENT = Party(
    address="279035121518989@patient.mssante.fr",
    kind=PartyKind.PATIENT,
    display_name="Marie Dupont",
)


async def run(n: int, database_url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        nats = NatsServer(Path(tmp) / "nats")
        nats.start()
        try:
            bus = EventBus(nats.url, "bench")
            bus.start()
            await bus.wait_connected(10)
            await bus.ensure_streams(["MES_CONVERSATION"])
            t0 = datetime(2024, 1, 1, tzinfo=UTC)
            for start in range(0, n, 500):
                await asyncio.gather(
                    *[
                        bus.js.publish(
                            MessageAccepted.SUBJECT,
                            EventEnvelope.wrap(
                                MessageAccepted(
                                    message_id=f"msg-{i:07d}",
                                    conversation_id=f"conv-{i % 100}",
                                    sender=DOCTOR,
                                    recipient=PATIENT,
                                    subject="Résultats",
                                    body="Bonjour, voici vos résultats.",
                                    sent_at=t0 + timedelta(seconds=i),
                                ),
                                correlation_id="bench",
                            ).to_json_bytes(),
                        )
                        for i in range(start, min(n, start + 500))
                    ]
                )
            await bus.close()

            settings = MailboxSettings(
                data_dir=Path(tmp),
                nats_url=nats.url,
                database_url=database_url,
                log_json=False,
                log_level="WARNING",
            )
            app = create_app(settings)
            db = app.state.runtime.db
            async with app.router.lifespan_context(app):
                started = time.perf_counter()
                while True:
                    async with db.reading() as conn:
                        stored = (
                            await conn.execute(
                                select(func.count())
                                .select_from(messages)
                                .where(messages.c.folder == "inbox")
                            )
                        ).scalar_one()
                    if stored >= n:
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
            print(
                f"engine {db.url.get_backend_name()}: {n} events delivered in {elapsed:.2f} s "
                f"= {n / elapsed:,.0f} events/s (2 copies each)"
            )
        finally:
            nats.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.database_url))


if __name__ == "__main__":
    main()
