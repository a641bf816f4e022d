"""The identity service's calls (by the gateway and by conversation).

``PUT /internal/patients/{ins}`` with :class:`PatientProfileIn` creates (201) or replaces (200) a
profile and answers :class:`PatientProfileOut`; ``GET /internal/patients/{ins}`` answers it too,
404 ``patient_not_found`` without one. A malformed INS in the path is 422 ``invalid_ins``.

``GET /internal/resolutions/{address}`` answers :class:`AddressResolutionOut`: whether a message
to the address can be delivered, and if not, why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from mes_contracts.events.identity import PatientState

__all__ = [
    "NAME_MAX_LENGTH",
    "AddressResolutionOut",
    "PatientProfileIn",
    "PatientProfileOut",
    "ResolutionStatusName",
]

# The longest name (birth name, first names, display name) a profile keeps.
NAME_MAX_LENGTH = 200

ResolutionStatusName = Literal["deliverable", "not_found", "closed", "invalid"]


class PatientProfileIn(BaseModel):
    """Names are trimmed here; control characters in them are refused by the service with
    ``invalid_name`` (and ``field``), a display name too long by ``name_too_long``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    state: PatientState
    birth_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    first_names: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    display_name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    email: EmailStr | None = Field(default=None, max_length=254)
    app_installed: bool | None = Field(
        default=None, description="Omitted (null) keeps the current value."
    )


class PatientProfileOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    ins: str
    address: str
    state: PatientState
    birth_name: str
    first_names: str
    display_name: str
    email: str | None
    app_installed: bool


class AddressResolutionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    status: ResolutionStatusName
    ins: str | None = None
    invalid_reason: str | None = Field(default=None, description="why the INS is invalid")
    detail: str | None = None
    display_name: str | None = None
    state: PatientState | None = None
    app_installed: bool = False
