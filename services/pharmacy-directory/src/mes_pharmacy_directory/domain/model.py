"""The MSSanté mailbox directory: which BAL exist, who holds them, which are pharmacies'."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mes_contracts.addresses import AddressError, MailboxType, MssanteAddress
from mes_platform.names import shown_name

from .errors import (
    InvalidAddress,
    InvalidAlertEmail,
    InvalidCursor,
    InvalidFiness,
    InvalidQuery,
    InvalidRpps,
    PharmacyRequiresOrg,
)

__all__ = [
    "MailboxEntry",
    "Registration",
    "checked_alert_email",
    "checked_query",
    "decode_cursor",
    "encode_cursor",
    "normalise_address",
    "normalise_search",
    "registered_entry",
]

_RPPS = re.compile(r"[0-9]{11}")
# Corsican FINESS numbers start with their department, 2A or 2B (as in mes_contracts).
_FINESS = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{7}")


class Registration(StrEnum):
    """What a registration did: a replayed identical PUT changes nothing and emits nothing."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class MailboxEntry:
    address: str
    type: MailboxType
    display_name: str
    rpps: str | None
    finess: str | None
    pharmacy: bool
    updated_at: datetime
    alert_email: str | None = None

    def same_content(self, other: MailboxEntry) -> bool:
        """Equal but for ``updated_at``: the test for an identical replay."""
        return (
            self.address,
            self.type,
            self.display_name,
            self.rpps,
            self.finess,
            self.pharmacy,
            self.alert_email,
        ) == (
            other.address,
            other.type,
            other.display_name,
            other.rpps,
            other.finess,
            other.pharmacy,
            other.alert_email,
        )

    @property
    def search_text(self) -> str:
        """What a free-text search matches: the name without accents, address, numbers."""
        parts = [self.display_name, self.address, self.rpps or "", self.finess or ""]
        return normalise_search(" ".join(p for p in parts if p))


def normalise_address(value: str) -> str:
    """A health actor's address in its one stored form, the contracts' one spelling: the whole
    address in lower case.

    MSSanté operators treat local parts case-insensitively, and a directory where
    ``Dr.Martin@`` and ``dr.martin@`` were two entries would split one professional in two.
    """
    try:
        return MssanteAddress.parse(value.strip()).format()
    except AddressError as exc:
        raise InvalidAddress(exc.detail, reason=exc.reason.value) from exc


def registered_entry(
    *,
    address: str,
    type: MailboxType,
    display_name: str,
    rpps: str | None,
    finess: str | None,
    pharmacy: bool,
    now: datetime,
    alert_email: str | None = None,
) -> MailboxEntry:
    """An entry as registered, once the directory's rules hold.

    A pharmacy (officine) is reachable by patients only through an organisational mailbox,
    and is identified by its FINESS number, so ``pharmacy`` needs type ORG and a FINESS.
    The address is checked first: the numbers of what is not a health actor's mailbox
    (a patient's address, say) do not matter.
    """
    address = normalise_address(address)
    display_name = shown_name(display_name, field="display_name")
    if rpps is not None and not _RPPS.fullmatch(rpps):
        raise InvalidRpps("An RPPS number is 11 digits.")
    if finess is not None:
        finess = finess.upper()
        if not _FINESS.fullmatch(finess):
            raise InvalidFiness(
                "A FINESS number is 9 characters: 9 digits, or 2A/2B then 7 digits."
            )
    if pharmacy and type is not MailboxType.ORG:
        raise PharmacyRequiresOrg(f"A pharmacy's mailbox must be of type ORG, not {type.value}.")
    if pharmacy and finess is None:
        raise InvalidFiness("A pharmacy's mailbox needs the FINESS number of the officine.")
    if alert_email is not None:
        alert_email = checked_alert_email(alert_email)
    return MailboxEntry(
        address=address,
        type=type,
        display_name=display_name,
        rpps=rpps,
        finess=finess,
        pharmacy=pharmacy,
        updated_at=now,
        alert_email=alert_email,
    )


# One @, a dotted domain, no blank or control character: what an SMTP server accepts as a
# recipient, without claiming to parse every RFC 5321 form.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@" + _LABEL + r"(?:\." + _LABEL + ")+")


def checked_alert_email(value: str) -> str:
    """An organisational mailbox's alert address: the domain lower-cased, the local part as
    written (it is the receiving server's to interpret)."""
    value = value.strip()
    local, _, domain = value.rpartition("@")
    candidate = f"{local}@{domain.lower()}"
    if len(candidate) > 254 or not _EMAIL.fullmatch(candidate):
        raise InvalidAlertEmail(f"{value!r} is not an e-mail address.")
    return candidate


def checked_query(text: str) -> str:
    """A free-text query, refused when it holds control characters: no name, address or
    number holds one, and PostgreSQL cannot even compare a NUL."""
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidQuery("The search text must not contain control characters.")
    return text


def normalise_search(text: str) -> str:
    """Case- and accent-insensitive form: "Pharmacie Générale" is found by "generale"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def encode_cursor(last_address: str) -> str:
    """Opaque keyset position (the last address of a page), url-safe."""
    return base64.urlsafe_b64encode(last_address.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> str:
    """Refuses what this service did not issue rather than silently restarting at page one."""
    try:
        address = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    # The last address of a page is a stored, hence canonical, address: anything else (a NUL
    # that PostgreSQL cannot compare, say) was not issued here.
    try:
        canonical = MssanteAddress.parse(address).format()
    except AddressError as exc:
        raise InvalidCursor() from exc
    if canonical != address:
        raise InvalidCursor()
    return address
