"""How the service names what it holds: mailboxes by their one spelling, messages,
conversations and attachments by short printable ids.

A health actor's address is case-insensitive and written in lower case; a patient's keeps its
INS as the contracts write it (``2A``/``2B`` in upper case). Whoever calls, and however they
typed the address, a mailbox is found, listed and stored under that one spelling.
"""

from __future__ import annotations

from mes_contracts.addresses import AddressError, parse_address

from .errors import InvalidAddress

__all__ = ["MAX_ID_LENGTH", "could_be_id", "mailbox_address", "stored_address"]

# The width of the id columns: no id this service stores or hands out is longer.
MAX_ID_LENGTH = 64


def mailbox_address(value: str) -> str:
    """The one spelling of the mailbox ``value`` names; refused if no mailbox can have it."""
    try:
        return parse_address(value.strip()).format()
    except AddressError as exc:
        raise InvalidAddress(
            f"{value!r} is not an address of the MSSanté trust space.",
            reason=exc.reason.value,
        ) from exc


def stored_address(value: str) -> str:
    """An address as a message copy records it: its one spelling when it is an address of the
    trust space, else as written with its domain in lower case (the recipient of a bounced
    message is whatever the sender typed, and the report quotes it)."""
    value = value.strip()
    try:
        return parse_address(value).format()
    except AddressError:
        local, at, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}" if at else value


def could_be_id(value: str) -> bool:
    """Whether ``value`` could name a message, a conversation or an attachment held here.

    Ids are short and printable; anything else names nothing (and a NUL is not even
    comparable on PostgreSQL), so it is answered as unknown without asking storage.
    """
    return 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()
