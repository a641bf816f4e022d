from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from mes_contracts.events.identity import PatientState
from mes_platform.names import NAME_MAX_LENGTH

__all__ = ["PatientIn", "PatientOut", "ResolutionOut"]


class PatientIn(BaseModel):
    """Names are trimmed here; control characters in them are refused by the service with
    ``invalid_name`` (and ``field``), a display name too long by ``name_too_long``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    state: PatientState
    birth_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    first_names: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    display_name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    email: EmailStr | None = Field(default=None, max_length=254)
    app_installed: bool | None = None


class PatientOut(BaseModel):
    ins: str
    address: str
    state: PatientState
    birth_name: str
    first_names: str
    display_name: str
    email: str | None
    app_installed: bool


class ResolutionOut(BaseModel):
    address: str
    status: str = Field(description="deliverable, not_found, closed or invalid")
    ins: str | None = None
    invalid_reason: str | None = Field(default=None, description="why the INS is invalid")
    detail: str | None = None
    display_name: str | None = None
    state: PatientState | None = None
    app_installed: bool = False
