"""What a listing of pharmacies reads of each, and the keyset after a page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.sql import ColumnElement

from .tables import mailboxes, pharmacies

__all__ = ["COLUMNS", "MAILBOX", "after_page"]

COLUMNS = (
    pharmacies.c.finess,
    pharmacies.c.name,
    pharmacies.c.address_line,
    pharmacies.c.postal_code,
    pharmacies.c.city,
    pharmacies.c.lat,
    pharmacies.c.lon,
    pharmacies.c.open,
)

# The organisational pharmacy mailbox of the row's FINESS (the first by address): one indexed
# probe per row, in the same query as the rows.
MAILBOX = (
    select(func.min(mailboxes.c.address))
    .where(
        mailboxes.c.finess == pharmacies.c.finess,
        mailboxes.c.type == "ORG",
        mailboxes.c.pharmacy == true(),
    )
    .scalar_subquery()
    .label("mailbox")
)


def after_page(name: Any, finess: Any, cursor: tuple[Any, Any]) -> ColumnElement[bool]:
    """After the cursor's (name, FINESS), in the listing's order."""
    return or_(name > cursor[0], and_(name == cursor[0], finess > cursor[1]))
