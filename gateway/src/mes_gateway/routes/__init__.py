"""Feature routers of the public API: one module per feature, found automatically.

Adding a feature (e.g. professional messaging) is one new file, ``routes/<feature>.py``;
nothing else to edit, because ``create_app`` includes every module of this package (in name
order). A module defines:

- ``router``: an ``APIRouter``, usually ``APIRouter(prefix="/v1/...", tags=["<tag>"],
  responses=problems(*AUTHENTICATED))`` so the OpenAPI documents its problems;
- ``TAGS`` (optional): ``[{"name": "<tag>", "description": "..."}]`` for Swagger UI;
- ``DEVELOPMENT_ONLY = True`` (optional): the router is not registered in production (404);
- ``MATCHED_FIRST = True`` (optional): its routes are tried before the other features' (the
  router matches a request by trying the routes in order; a send was the 16th tried). Only for
  routes on every message's path, whose paths no other feature's route could match.

Inside, take what you need from ``mes_gateway.deps``::

    from ..deps import IdempotencyKey, MailboxHolder, ServicesDep, idempotency_headers
    from ..problem_docs import AUTHENTICATED, problems

    router = APIRouter(prefix="/v1/messages", tags=["messaging"],
                       responses=problems(*AUTHENTICATED))

    @router.post("", status_code=202, operation_id="sendMessage", summary="Send a message",
                 description="...", response_model=MessageAccepted,
                 responses=problems(*AUTHENTICATED, "mailbox_not_granted"))
    async def send(body: MessageIn, principal: MailboxHolder, key: IdempotencyKey,
                   services: ServicesDep) -> MessageAccepted:
        principal.require_mailbox(body.sender)          # 403 mailbox_not_granted
        with refused_as_invalid():                      # 422, as the service would answer
            message = HealthActorMessageIn(from_=body.sender, ...)
        answer = await services.send("conversation", "POST", "/internal/messages",
                                     body=message, headers=idempotency_headers(key))
        admission = answer_of(AdmissionOut, "conversation", answer)

The request and answer models of a service's internal route are those of
``mes_contracts.internal.<service>``, which the route declares too (``mes_gateway.calls`` has
``refused_as_invalid`` and ``answer_of``); never a plain dict on one side.

Each public route names its ``operation_id`` (camelCase, the domain's words: a generated
client's function is named after it), a ``summary``, a ``description`` (or a docstring) and
every problem code it can answer, in ``responses=problems(...)`` (codes are described once, in
``problem_codes.CODES``). A route's responses replace its router's for the same status: list
``*AUTHENTICATED`` again when the route adds a 401, 403 or 503 code. ``tests/
test_openapi_contract.py`` reads each route's code, and the services' it calls, and fails
when a route can answer a code its operation does not list.

``services.send`` / ``services.get`` raise the service's 4xx problem unchanged and turn a 5xx or
an unreachable service into 503 ``service_unavailable``; let those propagate. Raise
``mes_platform.errors`` (``Unprocessable``, ``Forbidden``, ...) for the gateway's own refusals,
never ``HTTPException``. Routes with a body larger than 1 MiB must live under a path listed in
``settings.UPLOAD_PATHS`` (uploads) or ``settings.MESSAGE_PATHS`` (messages).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

__all__ = ["Feature", "discover_features"]


@dataclass(frozen=True)
class Feature:
    name: str
    router: APIRouter
    tags: list[dict[str, Any]] = field(default_factory=list)
    development_only: bool = False
    matched_first: bool = False


def discover_features(*, production: bool) -> list[Feature]:
    features = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{module.__name__} must define `router = APIRouter(...)`")
        feature = Feature(
            info.name,
            router,
            list(getattr(module, "TAGS", [])),
            bool(getattr(module, "DEVELOPMENT_ONLY", False)),
            bool(getattr(module, "MATCHED_FIRST", False)),
        )
        if feature.development_only and production:
            continue
        features.append(feature)
    return features
