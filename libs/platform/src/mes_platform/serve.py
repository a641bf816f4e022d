"""Run one service process with uvicorn (uvloop + httptools), graceful on SIGTERM/SIGINT."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings

__all__ = ["run_app", "serve", "server_config"]


def _freeze_heap_after_startup(app: FastAPI) -> None:
    """Once the app has started, move everything alive (modules, schemas, compiled statements,
    pools) out of the garbage collector's reach: it is kept for the life of the process, and
    a full collection no longer walks it. Measured on the conversation service under load: full
    collections went from ~80 ms to ~3 ms, each a pause of every request in flight."""
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with startup(app_) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan


def server_config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    """How every process serves: uvloop and httptools, uvicorn's own protocol, no access log
    (the request middleware logs), up to 10 s to finish the requests in flight on SIGTERM."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        server_header=False,
    )


def run_app(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` in this process until SIGTERM/SIGINT."""
    _freeze_heap_after_startup(app)
    uvicorn.Server(server_config(app, host=host, port=port)).run()


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    run_app(create_app(settings), host=settings.host, port=settings.port)
