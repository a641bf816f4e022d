"""Run one service process with uvicorn (uvloop + httptools), graceful on SIGTERM/SIGINT."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings

__all__ = ["serve"]


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        server_header=False,
    )
