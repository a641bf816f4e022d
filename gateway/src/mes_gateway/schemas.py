"""Public shapes of patient profiles and address resolutions.

The gateway's own models, not the services': what a service stores never leaks into the API
by accident, since a response is validated against these before it leaves.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from mes_contracts.events.identity import PatientState

__all__ = ["AddressResolution", "PatientProfile", "PatientUpsert"]

_INS_EXAMPLE = "279035121518989"


class PatientUpsert(BaseModel):
    """A patient profile as ops load it (from the patient space's registry)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "state": "created",
                    "birth_name": "DUPONT",
                    "first_names": "Marie Anne",
                    "email": "marie.dupont@example.org",
                }
            ],
        },
    )

    state: PatientState = Field(description="created, activated, opposed or closed")
    birth_name: str = Field(min_length=1, max_length=200)
    first_names: str = Field(min_length=1, max_length=200)
    display_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Shown to professionals; defaults to the first first name and birth name",
    )
    email: EmailStr = Field(max_length=254, description="Where new-message e-mails go")
    app_installed: bool | None = Field(
        default=None,
        strict=True,
        description="Mobile app installed; omitted keeps the current value",
    )


class PatientProfile(BaseModel):
    ins: str = Field(examples=[_INS_EXAMPLE])
    address: str = Field(examples=[f"{_INS_EXAMPLE}@patient.mssante.fr"])
    state: PatientState
    birth_name: str
    first_names: str
    display_name: str
    email: str | None
    app_installed: bool


class AddressResolution(BaseModel):
    """Whether a message to an address would be delivered, and if not, why (DOMAIN.md)."""

    address: str
    status: Literal["deliverable", "not_found", "closed", "invalid"] = Field(
        description="deliverable (created/activated), not_found (opposed or no profile), "
        "closed, invalid (bad INS or address)",
    )
    ins: str | None = None
    invalid_reason: str | None = Field(
        default=None, description="invalid only: wrong_length, bad_characters, wrong_key, ..."
    )
    detail: str | None = None
    display_name: str | None = None
    state: PatientState | None = None
    app_installed: bool = False
