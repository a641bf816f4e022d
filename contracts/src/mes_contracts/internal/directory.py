"""The pharmacy-directory service's calls (by the gateway and by conversation).

``PUT /internal/mailboxes/{address}`` with :class:`MailboxIn` registers (201) or replaces (200)
a mailbox and answers :class:`MailboxOut`; ``GET /internal/mailboxes/{address}`` answers it
(404 ``mailbox_not_found`` when unknown); ``GET /internal/mailboxes`` searches, a
:class:`MailboxPageOut`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.addresses import MailboxType
from mes_contracts.internal.identity import NAME_MAX_LENGTH

__all__ = ["MailboxIn", "MailboxOut", "MailboxPageOut"]


class MailboxIn(BaseModel):
    """RPPS and FINESS are checked by the service, which answers with their own stable codes
    (``invalid_rpps``, ``invalid_finess``) rather than a generic schema error; so is the
    display name, trimmed here: ``invalid_name`` for control characters in it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    type: MailboxType = Field(examples=["ORG"])
    display_name: str = Field(
        min_length=1, max_length=NAME_MAX_LENGTH, examples=["Pharmacie Centrale"]
    )
    rpps: str | None = Field(
        default=None,
        max_length=64,
        description="11 digits (PER mailboxes)",
        examples=["10001234567"],
    )
    finess: str | None = Field(
        default=None,
        max_length=64,
        description="9 characters (establishments, pharmacies)",
        examples=["750012345"],
    )
    pharmacy: bool = Field(
        default=False, description="ORG mailbox of an officine; needs type ORG and a FINESS"
    )
    alert_email: str | None = Field(
        default=None,
        max_length=320,
        description="E-mail alerted when a message reaches this mailbox (no medical content)",
        examples=["alertes@pharmacie-centrale.fr"],
    )


class MailboxOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str = Field(examples=["pharmacie.centrale@officine.mssante.fr"])
    type: MailboxType
    display_name: str
    rpps: str | None
    finess: str | None
    pharmacy: bool
    updated_at: datetime
    alert_email: str | None = None


class MailboxPageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[MailboxOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null at the end."
    )
