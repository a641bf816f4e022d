"""The pharmacy-directory service's calls on pharmacies, dispensations and the patient ->
pharmacy channel's counters.

- ``POST /internal/pharmacies/batches``: upsert pharmacies of one import run
  (:class:`PharmacyBatchIn` -> :class:`PharmacyBatchOut`); a line with a wrong FINESS is
  reported, never stored.
- ``POST /internal/pharmacies/imports/{run}/close-absent``: an import run that read its whole
  extract closes the pharmacies it did not see (:class:`CloseAbsentOut`); none is deleted.
- ``GET /internal/pharmacies?q=&postal_code=&near=&limit=&cursor=``: search
  (:class:`PharmacyPageOut`); ``GET /internal/pharmacies/{finess}``: one (:class:`PharmacyOut`),
  404 ``pharmacy_not_found``.
- ``GET /internal/pharmacies/{finess}/recipient``: the organisational mailbox a patient writes
  to (:class:`PharmacyRecipientOut`); 404 ``pharmacy_not_found``, 409 ``pharmacy_closed``,
  409 ``pharmacy_without_mailbox``.
- ``PUT /internal/patients/{ins}/dispensations`` (:class:`DispensationsIn` ->
  :class:`DispensationsOut`): the patient's dispensing history, replaced.
- ``GET /internal/patients/{ins}/default-pharmacies`` (:class:`DefaultPharmaciesOut`).
- ``POST /internal/rate-limits/consume`` (:class:`RateLimitIn` -> :class:`RateLimitOut`):
  one atomic step of every counter named; refused when any is over its limit.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CloseAbsentOut",
    "DefaultPharmaciesOut",
    "DefaultPharmacyOut",
    "DispensationIn",
    "DispensationsIn",
    "DispensationsOut",
    "PharmacyBatchIn",
    "PharmacyBatchOut",
    "PharmacyOut",
    "PharmacyPageOut",
    "PharmacyRecipientOut",
    "PharmacyRecord",
    "RateLimitIn",
    "RateLimitOut",
    "RateRule",
    "RejectedRecord",
]

MAX_BATCH = 1000
MAX_DISPENSATIONS = 1000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PharmacyRecord(_Frozen):
    finess: str = Field(max_length=20, examples=["750100166"])
    name: str = Field(min_length=1, max_length=200, examples=["Pharmacie de la Bastille"])
    address_line: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, max_length=5)
    city: str | None = Field(default=None, max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class PharmacyBatchIn(_Frozen):
    run: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The import run: close-absent closes what no batch of the run held.",
    )
    pharmacies: tuple[PharmacyRecord, ...] = Field(max_length=MAX_BATCH)


class RejectedRecord(_Frozen):
    index: int
    finess: str
    code: str
    detail: str


class PharmacyBatchOut(_Frozen):
    created: int
    updated: int
    unchanged: int
    rejected: tuple[RejectedRecord, ...]


class CloseAbsentOut(_Frozen):
    closed: int


class PharmacyOut(_Frozen):
    finess: str
    name: str
    address_line: str | None
    postal_code: str | None
    city: str | None
    lat: float | None
    lon: float | None
    open: bool
    distance_m: int | None = Field(default=None, description="Only when searched `near`.")
    can_write: bool = Field(description="Whether an organisational mailbox of it exists.")
    mailbox: str | None = Field(description="That mailbox's address, when it exists.")


class PharmacyPageOut(_Frozen):
    items: tuple[PharmacyOut, ...]
    next_cursor: str | None


class PharmacyRecipientOut(_Frozen):
    finess: str
    name: str
    mailbox: str
    display_name: str


class DispensationIn(_Frozen):
    finess: str = Field(max_length=20, examples=["750100166"])
    date: date


class DispensationsIn(_Frozen):
    dispensations: tuple[DispensationIn, ...] = Field(max_length=MAX_DISPENSATIONS)


class DispensationsOut(_Frozen):
    ins: str
    count: int


class DefaultPharmacyOut(_Frozen):
    pharmacy: PharmacyOut
    last_dispensed_on: date


class DefaultPharmaciesOut(_Frozen):
    items: tuple[DefaultPharmacyOut, ...]


class RateRule(_Frozen):
    key: str = Field(min_length=1, max_length=200)
    limit: int = Field(ge=1)
    window_seconds: int = Field(ge=1, le=86_400 * 31)


class RateLimitIn(_Frozen):
    rules: tuple[RateRule, ...] = Field(min_length=1, max_length=10)


class RateLimitOut(_Frozen):
    allowed: bool
    retry_after_seconds: int = Field(description="0 when allowed.")
    refused_key: str | None = None
