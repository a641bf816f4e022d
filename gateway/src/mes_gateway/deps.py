"""Everything a route needs, as ``Annotated`` dependencies, from one import::

from ..deps import IdempotencyKey, OpsPrincipal, ServicesDep, SettingsDep
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from .auth import (
    CurrentPrincipal,
    MailboxHolder,
    OpsPrincipal,
    PatientPrincipal,
    bearer_scheme,
    principal_in_roles,
    require_roles,
)
from .idempotency import IdempotencyKey, KeyHeader, checked_key, idempotency_headers
from .principal import Principal, Role
from .services import ServiceClients, ServicesDep
from .settings import GatewaySettings

__all__ = [
    "CurrentPrincipal",
    "IdempotencyKey",
    "MailboxHolder",
    "OpsPrincipal",
    "PatientPrincipal",
    "PatientSending",
    "ProfessionalSending",
    "Sending",
    "ServicesDep",
    "SettingsDep",
    "idempotency_headers",
    "require_roles",
]


async def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]


@dataclass(frozen=True)
class Sending:
    """What a route that sends a message needs: who sends, the request's Idempotency-Key
    (checked), and the services."""

    principal: Principal
    key: str | None
    services: ServiceClients


def sending(*roles: Role) -> Callable[..., Awaitable[Sending]]:
    """One dependency for the three a sending route would otherwise declare (the caller in
    ``roles``, the key, the services): on every message's path, each dependency FastAPI
    solves costs about as much as the route's own checks. The OpenAPI is the same."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        key: KeyHeader = None,
    ) -> Sending:
        principal = await principal_in_roles(request, credentials, allowed)
        services: ServiceClients = request.app.state.services
        return Sending(principal, checked_key(key), services)

    return dependency


ProfessionalSending = Annotated[Sending, Depends(sending(Role.PROFESSIONAL, Role.APPLICATION))]
PatientSending = Annotated[Sending, Depends(sending(Role.PATIENT))]
