"""The notifier process starts, migrates its database and reports ready with a real NATS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from mes_dev.testing import NatsServer
from mes_notifier.main import create_app
from mes_notifier.settings import NotifierSettings


async def test_it_starts_and_is_ready(nats_server: NatsServer, tmp_path: Path) -> None:
    settings = NotifierSettings(data_dir=tmp_path, nats_url=nats_server.url)
    assert (settings.port, settings.smtp_host, settings.smtp_port) == (8105, "127.0.0.1", 8025)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert (tmp_path / "notifier.db").exists()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": "notifier"}
            # NATS connects in the background: readiness follows within a moment.
            for _ in range(100):
                ready = await client.get("/readyz")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert ready.json()["status"] == "ready", ready.text
            assert ready.json()["checks"] == {"database": "ok", "nats": "ok", "consumers": "ok"}
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
