"""Events of the pharmacy-directory service: the MSSanté mailbox directory."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from mes_contracts.addresses import HealthActorAddressStr, MailboxType
from mes_contracts.events.base import EventPayload

__all__ = ["Finess", "MailboxRegistered", "Rpps"]

Rpps = Annotated[str, StringConstraints(pattern=r"^[0-9]{11}$")]
"""RPPS number of a health professional: 11 digits."""

# Corsican FINESS numbers start with the department, 2A or 2B.
Finess = Annotated[str, StringConstraints(pattern=r"^(?:[0-9]{2}|2[AB])[0-9]{7}$")]
"""FINESS number of an establishment: 9 characters."""


class MailboxRegistered(EventPayload):
    """A health actor's mailbox (BAL) entered the directory."""

    SUBJECT: ClassVar[str] = "mes.directory.mailbox.registered.v1"

    address: HealthActorAddressStr = Field(
        description="Address of the BAL.", examples=["pharmacie.centrale@officine.mssante.fr"]
    )
    type: MailboxType = Field(description="Type of BAL: PER, ORG, APP or CAB.", examples=["ORG"])
    display_name: str = Field(
        description="Name shown to patients.", examples=["Pharmacie Centrale"]
    )
    rpps: Rpps | None = Field(
        description="RPPS number of the professional (PER mailboxes); null otherwise.",
        examples=["10001234567"],
    )
    finess: Finess | None = Field(
        description="FINESS number of the establishment owning the BAL; null otherwise.",
        examples=["750012345"],
    )
    pharmacy: bool = Field(
        description="Whether the owner is a pharmacy (patients may write to its ORG mailbox).",
        examples=[True],
    )
    alert_email: str | None = Field(
        default=None,
        description=(
            "E-mail address alerted when a message reaches this organisational mailbox (a"
            " pharmacy's, say); null when none is set. The alert carries no medical content."
        ),
        examples=["alertes@pharmacie-centrale.fr"],
    )
