"""Who is calling: the principal a verified token describes, and what it may act for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mes_contracts.addresses import AddressError, MssanteAddress
from mes_contracts.ins import InsError, validate_ins
from mes_platform.errors import Forbidden

__all__ = ["ClaimsError", "Principal", "Role", "normalise_mailboxes", "principal_from_claims"]


class Role(StrEnum):
    PATIENT = "patient"
    PROFESSIONAL = "professional"
    APPLICATION = "application"
    OPS = "ops"


MAILBOX_ROLES = frozenset({Role.PROFESSIONAL, Role.APPLICATION})


class ClaimsError(ValueError):
    """A token is authentic but its claims do not describe a usable principal."""


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str
    ins: str | None = None
    # Lower-cased: MSSanté operators treat addresses case-insensitively, and a grant must not
    # depend on how a client happens to spell the address.
    mailboxes: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None

    def require_mailbox(self, address: str) -> str:
        """The mailbox's one spelling (lower case, as granted) if this principal holds it, else
        refuse with 403: the services, and the scope of an Idempotency-Key, see the same
        mailbox however the client typed it."""
        canonical = address.strip().lower()
        if canonical not in self.mailboxes:
            raise Forbidden(
                f"Your token does not grant the mailbox {address!r}.",
                code="mailbox_not_granted",
                address=address,
            )
        return canonical


def normalise_mailboxes(values: object) -> frozenset[str]:
    """Validate MSSanté BAL addresses (never a patient's) and lower-case them."""
    if not isinstance(values, list | tuple) or not values:
        raise ClaimsError("at least one MSSanté mailbox is required")
    out = set()
    for value in values:
        if not isinstance(value, str):
            raise ClaimsError("mailboxes must be strings")
        try:
            out.add(MssanteAddress.parse(value).format().lower())
        except AddressError as exc:
            raise ClaimsError(f"mailbox {value!r} is not valid: {exc}") from exc
    return frozenset(out)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build the principal of verified claims; raises ClaimsError on an unusable shape."""
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise ClaimsError(f"role must be one of {', '.join(Role)}") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ClaimsError("sub must be a non-empty string")
    name = claims.get("name")
    if name is not None and not isinstance(name, str):
        raise ClaimsError("name must be a string")
    ins = None
    mailboxes: frozenset[str] = frozenset()
    if role is Role.PATIENT:
        raw_ins = claims.get("ins")
        if not isinstance(raw_ins, str):
            raise ClaimsError("a patient token needs an ins claim")
        try:
            ins = validate_ins(raw_ins)
        except InsError as exc:
            raise ClaimsError(f"ins claim is not valid: {exc.detail}") from exc
    elif role in MAILBOX_ROLES:
        mailboxes = normalise_mailboxes(claims.get("mailboxes"))
    return Principal(role=role, subject=subject, ins=ins, mailboxes=mailboxes, name=name)
