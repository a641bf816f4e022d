"""Who takes part in a message, and what a message references: shared by several events."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.addresses import MssanteAddressStr

__all__ = ["AttachmentRef", "Party", "PartyKind"]


class PartyKind(StrEnum):
    """What kind of correspondent a party is; rules differ (e.g. the pharmacy exception)."""

    PATIENT = "patient"
    PROFESSIONAL = "professional"
    ORGANISATION = "organisation"
    APPLICATION = "application"
    PHARMACY = "pharmacy"


class Party(BaseModel):
    """A sender or recipient, as it was when the event happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: MssanteAddressStr = Field(
        description="Address in the MSSanté trust space (patient or health actor).",
        examples=["dr.martin@hopital-exemple.mssante.fr"],
    )
    kind: PartyKind = Field(description="Kind of correspondent.", examples=["professional"])
    display_name: str = Field(description="Name shown to the other party.", examples=["Dr Martin"])


class AttachmentRef(BaseModel):
    """An attachment whose bytes are already stored by the mailbox service.

    Events carry references, not bytes: bytes are stored durably before the message that
    references them is accepted, and the event bus is not a file store.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        min_length=1,
        description="Identifier of the stored attachment.",
        examples=["5f0c1e7e-8a7b-4c59-9d0e-2d7f3c1b6a11"],
    )
    filename: str = Field(
        min_length=1, description="File name as sent.", examples=["ordonnance.pdf"]
    )
    content_type: str = Field(description="MIME type.", examples=["application/pdf"])
    size: int = Field(ge=0, description="Size in bytes.", examples=[184320])
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the bytes, lower-case hex.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
