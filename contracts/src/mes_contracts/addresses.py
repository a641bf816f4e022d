"""Addresses in the MSSanté trust space: patients' mailboxes and health actors' BAL.

A patient's address is ``<matricule INS>@patient.mssante.fr``; every other address whose
domain ends in ``.mssante.fr`` belongs to a health actor (a BAL: personal, organisational,
applicative or a practice's). Anything outside that space is refused, because MSSanté only
exchanges mail between operators of the trust space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from mes_contracts.ins import InsError, InsInvalidReason, validate_ins

__all__ = [
    "MSSANTE_DOMAIN_SUFFIX",
    "PATIENT_DOMAIN",
    "AddressError",
    "AddressInvalidReason",
    "HealthActorAddressStr",
    "MailboxType",
    "MssanteAddress",
    "MssanteAddressStr",
    "PatientAddress",
    "PatientAddressStr",
    "is_patient_address",
    "parse_address",
]

PATIENT_DOMAIN = "patient.mssante.fr"
MSSANTE_DOMAIN_SUFFIX = ".mssante.fr"
_MAX_LOCAL = 64  # RFC 5321 section 4.5.3.1.1
_MAX_TOTAL = 254  # RFC 5321 path limit (256) minus the angle brackets
# RFC 5322 dot-atom, ASCII only: MSSanté operators do not all accept SMTPUTF8.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


class AddressInvalidReason(StrEnum):
    """Why a string is not an acceptable address; stable codes that API layers may expose."""

    MALFORMED = "malformed"
    NOT_MSSANTE = "not_mssante"
    # A patient's address given where a health actor's mailbox is expected.
    PATIENT_DOMAIN = "patient_domain"


class AddressError(ValueError):
    """A string is not an acceptable address.

    ``reason`` is an AddressInvalidReason, or the InsInvalidReason of the local part when a
    patient address carries a bad INS (that is what decides the "invalidé" report). The
    message starts with the reason code, as for InsError.
    """

    def __init__(self, reason: AddressInvalidReason | InsInvalidReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")


class MailboxType(StrEnum):
    """Type of an MSSanté mailbox (BAL, boîte aux lettres).

    - ``PER``: personnelle / personal, one professional identified by RPPS.
    - ``ORG``: organisationnelle / organisational, a service or a pharmacy.
    - ``APP``: applicative / application, software sending automatically.
    - ``CAB``: cabinet / a practice shared by its professionals.
    """

    PER = "PER"
    ORG = "ORG"
    APP = "APP"
    CAB = "CAB"


def _split(value: str) -> tuple[str, str]:
    """Split into (local part, lower-case domain), refusing what no mail server would take."""
    if len(value) > _MAX_TOTAL:
        raise AddressError(
            AddressInvalidReason.MALFORMED,
            f"address must be at most {_MAX_TOTAL} characters, got {len(value)}",
        )
    local, at, domain = value.rpartition("@")
    if not at:
        raise AddressError(AddressInvalidReason.MALFORMED, "address must contain '@'")
    domain = domain.lower()
    if not local or len(local) > _MAX_LOCAL or not _LOCAL_PART.fullmatch(local):
        raise AddressError(
            AddressInvalidReason.MALFORMED,
            f"local part must be a dot-atom of 1 to {_MAX_LOCAL} ASCII characters",
        )
    # fullmatch, not match with "$": "$" would let a trailing newline through.
    if not _DOMAIN.fullmatch(domain):
        raise AddressError(AddressInvalidReason.MALFORMED, "domain is not a valid host name")
    if not domain.endswith(MSSANTE_DOMAIN_SUFFIX):
        raise AddressError(
            AddressInvalidReason.NOT_MSSANTE,
            f"domain {domain!r} is outside the MSSanté trust space (*{MSSANTE_DOMAIN_SUFFIX})",
        )
    return local, domain


@dataclass(frozen=True, slots=True)
class PatientAddress:
    """A patient's secure mailbox: ``<matricule INS>@patient.mssante.fr``."""

    ins: str

    @classmethod
    def for_ins(cls, ins: str) -> PatientAddress:
        """Return the address of the patient with this INS; raises InsError if it is invalid."""
        return cls(validate_ins(ins))

    @classmethod
    def parse(cls, value: str) -> PatientAddress:
        """Parse a patient address; the domain is case-insensitive, the INS is checked."""
        local, domain = _split(value)
        if domain != PATIENT_DOMAIN:
            raise AddressError(
                AddressInvalidReason.MALFORMED, f"patient addresses end in @{PATIENT_DOMAIN}"
            )
        return cls._from_local(local)

    @classmethod
    def _from_local(cls, local: str) -> PatientAddress:
        try:
            return cls(validate_ins(local))
        except InsError as error:
            raise AddressError(error.reason, error.detail) from error

    def format(self) -> str:
        """Return the address as written in mail headers."""
        return f"{self.ins}@{PATIENT_DOMAIN}"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True, slots=True)
class MssanteAddress:
    """A health actor's mailbox (BAL) in the MSSanté trust space, not a patient's."""

    local_part: str
    domain: str

    @classmethod
    def parse(cls, value: str) -> MssanteAddress:
        """Parse a health actor's address, normalised to lower case.

        RFC 5321 leaves the case of a local part to the receiving domain; MSSanté operators
        treat it as insignificant, so this product keeps one spelling of each mailbox: a grant,
        a listing and a stored copy must not depend on how a client typed the address.
        """
        local, domain = _split(value)
        if domain == PATIENT_DOMAIN:
            raise AddressError(
                AddressInvalidReason.PATIENT_DOMAIN,
                "a patient address is not a health actor's mailbox",
            )
        return cls(local.lower(), domain)

    def format(self) -> str:
        """Return the address as written in mail headers."""
        return f"{self.local_part}@{self.domain}"

    def __str__(self) -> str:
        return self.format()


def parse_address(value: str) -> PatientAddress | MssanteAddress:
    """Parse any address of the trust space: a patient's or a health actor's."""
    local, domain = _split(value)
    if domain == PATIENT_DOMAIN:
        return PatientAddress._from_local(local)
    return MssanteAddress(local.lower(), domain)


def is_patient_address(value: str | PatientAddress | MssanteAddress) -> bool:
    """Tell whether an address is on the patient domain.

    The INS is not checked: a patient address with a bad INS is still addressed to a
    patient, and is the one that gets the "invalidé" non-delivery report.
    """
    if isinstance(value, PatientAddress):
        return True
    if isinstance(value, MssanteAddress):
        return False
    return value.rpartition("@")[2].lower() == PATIENT_DOMAIN


def _normalise_patient(value: str) -> str:
    return PatientAddress.parse(value).format()


def _normalise_health_actor(value: str) -> str:
    return MssanteAddress.parse(value).format()


def _normalise_any(value: str) -> str:
    return parse_address(value).format()


PatientAddressStr = Annotated[str, AfterValidator(_normalise_patient)]
"""A patient address field for pydantic models (normalised; bad INS → its reason code)."""

HealthActorAddressStr = Annotated[str, AfterValidator(_normalise_health_actor)]
"""A health actor's mailbox (BAL) address field; patient addresses are refused."""

MssanteAddressStr = Annotated[str, AfterValidator(_normalise_any)]
"""Any address of the trust space, patient or health actor (normalised)."""
