"""No request waits for a worker thread: every route and every dependency of every app is a
coroutine.

FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: each request then
hands work to a thread and back, which costs the event loop two wake-ups and, on a busy
machine, a wait for the thread to be scheduled. A listing's cursor check alone did this on
every patient's read.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .apps import APPS


def _is_coroutine(call: object) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)
    )


def _sync_calls(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        if dep.call is not None and not _is_coroutine(dep.call):
            yield getattr(dep.call, "__qualname__", repr(dep.call))
        yield from _sync_calls(dep)


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_route_and_dependency_is_a_coroutine(service: str) -> None:
    app = APPS[service]()
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert routes, f"{service} has no routes to check"
    threaded = sorted(
        {
            f"{r.path}: endpoint {r.endpoint.__qualname__}"
            for r in routes
            if not _is_coroutine(r.endpoint)
        }
        | {f"{r.path}: dependency {name}" for r in routes for name in _sync_calls(r.dependant)}
    )
    assert threaded == [], f"{service} runs these in the thread pool: {threaded}"
