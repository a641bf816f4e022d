"""Everything a route needs, as ``Annotated`` dependencies, from one import::

from ..deps import IdempotencyKey, OpsPrincipal, ServicesDep, SettingsDep
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .auth import CurrentPrincipal, MailboxHolder, OpsPrincipal, PatientPrincipal, require_roles
from .idempotency import IdempotencyKey, idempotency_headers
from .services import ServicesDep
from .settings import GatewaySettings

__all__ = [
    "CurrentPrincipal",
    "IdempotencyKey",
    "MailboxHolder",
    "OpsPrincipal",
    "PatientPrincipal",
    "ServicesDep",
    "SettingsDep",
    "idempotency_headers",
    "require_roles",
]


async def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
