"""Refusals of the directory, each with the stable code a caller can act on."""

from __future__ import annotations

from mes_platform.errors import Conflict, InvalidCursor, NotFound, Unprocessable
from mes_platform.names import InvalidName, NameTooLong  # shared by every service's names

__all__ = [
    "InvalidAddress",
    "InvalidAlertEmail",
    "InvalidCursor",
    "InvalidDispensation",
    "InvalidFiness",
    "InvalidName",
    "InvalidQuery",
    "InvalidRpps",
    "MailboxNotFound",
    "NameTooLong",
    "PharmacyClosed",
    "PharmacyNotFound",
    "PharmacyRequiresOrg",
    "PharmacyWithoutMailbox",
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


class PharmacyNotFound(NotFound):
    code = "pharmacy_not_found"
    title = "Pharmacy not found"


class PharmacyClosed(Conflict):
    code = "pharmacy_closed"
    title = "The pharmacy is closed"


class PharmacyWithoutMailbox(Conflict):
    code = "pharmacy_without_mailbox"
    title = "The pharmacy has no organisational mailbox"


class InvalidAlertEmail(Unprocessable):
    code = "invalid_alert_email"
    title = "Invalid alert e-mail address"


class InvalidDispensation(Unprocessable):
    code = "invalid_dispensation"
    title = "Invalid dispensation"
