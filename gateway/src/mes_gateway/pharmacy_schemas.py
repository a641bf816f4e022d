"""Public models of the pharmacy features: search, the message template, a request to a
pharmacy, and the operations' imports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mes_contracts.internal.documents import MAX_DOCUMENTS_PER_MESSAGE
from mes_contracts.internal.pharmacies import MAX_BATCH, MAX_DISPENSATIONS

from .messaging_schemas import MAX_BODY_CHARS, AttachmentIds

__all__ = [
    "CloseAbsentOut",
    "DispensationsIn",
    "DispensationsOut",
    "PharmacyBatchIn",
    "PharmacyBatchOut",
    "PharmacyList",
    "PharmacyMessageTemplate",
    "PharmacyOut",
    "PharmacyRequestIn",
    "PharmacyRequestOut",
]

_FINESS = "750100166"


class PharmacyOut(BaseModel):
    finess: str = Field(examples=[_FINESS], description="FINESS number of the officine.")
    name: str = Field(examples=["Pharmacie de la Bastille"])
    address_line: str | None = Field(examples=["4 place de la Bastille"])
    postal_code: str | None = Field(examples=["75011"])
    city: str | None = Field(examples=["PARIS"])
    lat: float | None = Field(description="WGS84 latitude", examples=[48.8532])
    lon: float | None = Field(description="WGS84 longitude", examples=[2.3691])
    distance_m: int | None = Field(
        default=None, description="Metres from `near`, when searched near a point."
    )
    can_write: bool = Field(
        description="Whether the pharmacy has an organisational MSSanté mailbox, so that you "
        "may send it a request."
    )


class PharmacyList(BaseModel):
    items: list[PharmacyOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class PharmacyMessageTemplate(BaseModel):
    subject: str = Field(examples=["Ordonnance"])
    body: str = Field(description="Pre-filled text; edit it freely before sending.")
    reminder: str = Field(description="Shown beside the message: the paper prescription.")


_Id = Annotated[str, StringConstraints(max_length=64)]


class PharmacyRequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"pharmacy": _FINESS, "document_ids": ["d-1f2e3c"], "body": "Bonjour"}]
        },
    )

    pharmacy: str = Field(max_length=20, description="The pharmacy's FINESS number.")
    document_ids: list[_Id] = Field(
        default_factory=list,
        max_length=MAX_DOCUMENTS_PER_MESSAGE,
        description="Documents of your space (the prescription), sent as copies.",
    )
    attachment_ids: AttachmentIds
    body: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description="The message; the template's text when absent.",
    )


class SentAttachment(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class PharmacyRequestOut(BaseModel):
    message_id: str
    conversation_id: str | None
    status: Literal["accepted", "bounced"]
    pharmacy: str = Field(description="FINESS number.")
    mailbox: str = Field(description="The pharmacy's organisational mailbox written to.")
    attachments: list[SentAttachment]


class PharmacyRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finess: str = Field(max_length=20)
    name: str = Field(min_length=1, max_length=200)
    address_line: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, max_length=5)
    city: str | None = Field(default=None, max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class PharmacyBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    pharmacies: list[PharmacyRecordIn] = Field(max_length=MAX_BATCH)


class RejectedOut(BaseModel):
    index: int
    finess: str
    code: str
    detail: str


class PharmacyBatchOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: list[RejectedOut]


class CloseAbsentOut(BaseModel):
    closed: int


class DispensationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    finess: str = Field(max_length=20, examples=[_FINESS])
    date: date


class DispensationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dispensations: list[DispensationIn] = Field(max_length=MAX_DISPENSATIONS)


class DispensationsOut(BaseModel):
    ins: str
    count: int
