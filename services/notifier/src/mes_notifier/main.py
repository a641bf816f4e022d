"""Composition root of the notifier service.

A running skeleton: the process, its database and NATS connection, health and metrics. The
consumers that send e-mails, app notifications and pharmacy alerts are registered here later.
"""

from __future__ import annotations

from fastapi import FastAPI

from mes_platform.runtime import ServiceRuntime, create_service_app

from .settings import NotifierSettings

__all__ = ["create_app"]


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    runtime = ServiceRuntime(settings, migrations="mes_notifier:migrations")
    return create_service_app(
        runtime,
        title="MES notifier service",
        description="Notifications, receipts and non-delivery e-mails, pharmacy alerts.",
    )
