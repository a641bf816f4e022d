from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from mes_contracts.events.identity import PatientState

__all__ = ["PatientIn", "PatientOut", "ResolutionOut"]


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    state: PatientState
    birth_name: str = Field(min_length=1, max_length=200)
    first_names: str = Field(min_length=1, max_length=200)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
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
