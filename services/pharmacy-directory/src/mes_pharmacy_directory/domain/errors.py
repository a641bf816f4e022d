"""Refusals of the directory, each with the stable code a caller can act on."""

from __future__ import annotations

from mes_platform.errors import InvalidCursor, NotFound, Unprocessable
from mes_platform.names import InvalidName, NameTooLong  # shared by every service's names

__all__ = [
    "InvalidAddress",
    "InvalidCursor",
    "InvalidFiness",
    "InvalidName",
    "InvalidQuery",
    "InvalidRpps",
    "MailboxNotFound",
    "NameTooLong",
    "PharmacyRequiresOrg",
]


class InvalidAddress(Unprocessable):
    code = "invalid_address"
    title = "Not a health actor's MSSanté address"


class PharmacyRequiresOrg(Unprocessable):
    code = "pharmacy_requires_org"
    title = "A pharmacy is reachable only through an organisational mailbox"


class InvalidRpps(Unprocessable):
    code = "invalid_rpps"
    title = "Invalid RPPS number"


class InvalidFiness(Unprocessable):
    code = "invalid_finess"
    title = "Invalid FINESS number"


class InvalidQuery(Unprocessable):
    code = "invalid_query"
    title = "Invalid search text"


class MailboxNotFound(NotFound):
    code = "mailbox_not_found"
    title = "Mailbox not found"
