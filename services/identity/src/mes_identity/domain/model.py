"""Patient profiles and what their state means for a message addressed to them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from mes_contracts.addresses import AddressError, PatientAddress
from mes_contracts.events.identity import PatientState
from mes_contracts.ins import InsError, InsInvalidReason
from mes_platform.names import NAME_MAX_LENGTH, NameTooLong, shown_name

__all__ = [
    "PatientNames",
    "PatientProfile",
    "ProfileChange",
    "Resolution",
    "ResolutionStatus",
    "parse_patient_address",
    "resolve_for_profile",
]


@dataclass(frozen=True)
class PatientNames:
    """A patient's names as operations load them, each one that may be stored and shown."""

    birth_name: str
    first_names: str
    display_name: str

    @classmethod
    def given(cls, *, birth_name: str, first_names: str, display_name: str | None) -> PatientNames:
        """Trimmed and checked; without a display name, the first first name and the birth
        name, which must then fit in a display name too (``ß`` alone title-cases to ``Ss``)."""
        birth_name = shown_name(birth_name, field="birth_name")
        first_names = shown_name(first_names, field="first_names")
        if display_name is not None:
            return cls(birth_name, first_names, shown_name(display_name, field="display_name"))
        default = PatientProfile.default_display_name(first_names, birth_name)
        if len(default) > NAME_MAX_LENGTH:
            raise NameTooLong(
                f"The display name made of the first first name and the birth name would be "
                f"{len(default)} characters, more than {NAME_MAX_LENGTH}: give a display_name.",
                field="display_name",
                max_length=NAME_MAX_LENGTH,
            )
        return cls(birth_name, first_names, default)


@dataclass(frozen=True)
class PatientProfile:
    ins: str
    state: PatientState
    birth_name: str
    first_names: str
    display_name: str
    email: str | None
    app_installed: bool

    @staticmethod
    def default_display_name(first_names: str, birth_name: str) -> str:
        first = first_names.split()[0] if first_names.split() else ""
        return f"{first} {birth_name.strip().title()}".strip()

    def with_changes(self, other: PatientProfile) -> ProfileChange:
        """What an ops update means: which event, if any, describes it."""
        if other == self:
            return ProfileChange.NONE
        if other.state != self.state:
            return {
                PatientState.ACTIVATED: ProfileChange.ACTIVATED,
                PatientState.OPPOSED: ProfileChange.OPPOSED,
                PatientState.CLOSED: ProfileChange.CLOSED,
                PatientState.CREATED: ProfileChange.UPDATED,
            }[other.state]
        return ProfileChange.UPDATED

    def evolve(self, **changes: object) -> PatientProfile:
        return replace(self, **changes)  # type: ignore[arg-type]


class ProfileChange(StrEnum):
    NONE = "none"
    CREATED = "created"
    UPDATED = "updated"
    ACTIVATED = "activated"
    OPPOSED = "opposed"
    CLOSED = "closed"


class ResolutionStatus(StrEnum):
    DELIVERABLE = "deliverable"
    NOT_FOUND = "not_found"
    CLOSED = "closed"
    INVALID = "invalid"


@dataclass(frozen=True)
class Resolution:
    address: str
    status: ResolutionStatus
    ins: str | None = None
    invalid_reason: InsInvalidReason | str | None = None
    detail: str | None = None
    display_name: str | None = None
    state: PatientState | None = None
    app_installed: bool = False


def parse_patient_address(address: str) -> PatientAddress | Resolution:
    try:
        return PatientAddress.parse(address)
    except (AddressError, InsError) as exc:
        reason = getattr(exc, "reason", None)
        return Resolution(
            address=address, status=ResolutionStatus.INVALID, invalid_reason=reason, detail=str(exc)
        )


def resolve_for_profile(address: str, ins: str, profile: PatientProfile | None) -> Resolution:
    """The rule of DOMAIN.md: opposed or unknown → not_found; closed → closed; else deliverable."""
    if profile is None or profile.state == PatientState.OPPOSED:
        return Resolution(address=address, status=ResolutionStatus.NOT_FOUND, ins=ins)
    if profile.state == PatientState.CLOSED:
        return Resolution(address=address, status=ResolutionStatus.CLOSED, ins=ins)
    return Resolution(
        address=address,
        status=ResolutionStatus.DELIVERABLE,
        ins=ins,
        display_name=profile.display_name,
        state=profile.state,
        app_installed=profile.app_installed,
    )
