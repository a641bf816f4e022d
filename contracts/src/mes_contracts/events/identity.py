"""Events of the identity service: a patient profile changed."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from mes_contracts.events.base import EventPayload
from mes_contracts.ins import Ins

__all__ = [
    "PatientActivated",
    "PatientClosed",
    "PatientCreated",
    "PatientOpposed",
    "PatientProfileChanged",
    "PatientState",
    "PatientUpdated",
]


class PatientState(StrEnum):
    """State of a patient profile; it decides delivery and notifications."""

    CREATED = "created"  # exists, never activated: delivered, e-mail notification only
    ACTIVATED = "activated"  # delivered, e-mail and app notification if installed
    OPPOSED = "opposed"  # patient refused the profile: "n'existe pas"
    CLOSED = "closed"  # patient closed the profile: "clôturée"


class PatientProfileChanged(EventPayload):
    """The whole profile after a change; one subclass per kind of change.

    Carrying the full state (not a diff) lets a consumer that missed an event catch up
    from the next one.
    """

    ins: Ins = Field(description="Matricule INS of the patient.", examples=["279035121518989"])
    state: PatientState = Field(description="State after the change.", examples=["activated"])
    previous_state: PatientState | None = Field(
        description="State before the change; null when the profile was just created.",
        examples=["created"],
    )
    birth_name: str = Field(description="Birth name (nom de naissance).", examples=["DUPONT"])
    first_names: str = Field(
        description="First names, space separated, as on the INS record.",
        examples=["Marie Louise"],
    )
    display_name: str = Field(
        description="Name shown to correspondents.", examples=["Marie Dupont"]
    )
    email: str | None = Field(
        description="Contact e-mail for notifications; null when none is known.",
        examples=["marie.dupont@example.org"],
    )
    app_installed: bool = Field(
        description="Whether the mobile app is installed (app notifications).", examples=[True]
    )


class PatientCreated(PatientProfileChanged):
    """A profile was created; the patient has not activated it yet."""

    SUBJECT: ClassVar[str] = "mes.identity.patient.created.v1"


class PatientUpdated(PatientProfileChanged):
    """Names, e-mail or app installation changed; the state did not."""

    SUBJECT: ClassVar[str] = "mes.identity.patient.updated.v1"


class PatientActivated(PatientProfileChanged):
    """The patient activated the profile."""

    SUBJECT: ClassVar[str] = "mes.identity.patient.activated.v1"


class PatientOpposed(PatientProfileChanged):
    """The patient refused the creation of the profile."""

    SUBJECT: ClassVar[str] = "mes.identity.patient.opposed.v1"


class PatientClosed(PatientProfileChanged):
    """The patient closed the profile; its data is archived."""

    SUBJECT: ClassVar[str] = "mes.identity.patient.closed.v1"
