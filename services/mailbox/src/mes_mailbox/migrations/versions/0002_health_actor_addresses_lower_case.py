"""A health actor's address has one spelling, in lower case: what was stored under another
spelling moves to it, so that a mailbox lists all its copies whatever case its owner types.

Patients' addresses are left as they are (their INS keeps ``2A``/``2B`` in upper case). A copy
whose lower-case key is already taken (the same message held under two spellings) stays where
it is: the copy under the lower-case spelling is the one listed.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _table(name: str, *columns: str) -> sa.TableClause:
    # The tables as revision 0001 made them, only the columns this revision touches.
    return sa.table(name, *(sa.column(c, sa.String) for c in columns))


_MAILBOXES = _table("mailboxes", "address")
_MESSAGES = _table(
    "messages", "mailbox_address", "message_id", "sender_address", "recipient_address"
)
_MESSAGE_ATTACHMENTS = _table(
    "message_attachments", "mailbox_address", "message_id", "attachment_id"
)
_ATTACHMENTS = _table("attachments", "uploaded_by")


def _mixed(column: sa.ColumnClause[Any]) -> sa.ColumnElement[bool]:
    # Domains were already stored in lower case: only health actors' local parts differ.
    return sa.and_(
        column != sa.func.lower(column),
        column.like("%.mssante.fr"),
        column.not_like("%@patient.mssante.fr"),
    )


def _move_keys(
    conn: Any, table: sa.TableClause, column: str, others: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Rows keyed by (``column``, *``others``) move to the lower-case spelling of ``column``
    unless that key is taken; in Python, so that two spellings of one key never collide.
    Returns the keys of the rows left where they were."""
    address = table.c[column]
    key = [address, *(table.c[name] for name in others)]
    rows = [
        tuple(r) for r in conn.execute(sa.select(*key).where(_mixed(address))) if r[0].isascii()
    ]
    if not rows:
        return []
    taken: set[tuple[Any, ...]] = set()
    for lower in sorted({r[0].lower() for r in rows}):
        taken.update(tuple(r) for r in conn.execute(sa.select(*key).where(address == lower)))
    moves, stayed = [], []
    for row in sorted(rows):
        target = (row[0].lower(), *row[1:])
        params = {"old": row[0], "new": target[0]}
        params |= {f"k_{name}": value for name, value in zip(others, row[1:], strict=True)}
        if target in taken:
            stayed.append(params)
            continue
        taken.add(target)
        moves.append(params)
    if moves:
        same_row = [table.c[name] == sa.bindparam(f"k_{name}") for name in others]
        conn.execute(
            sa.update(table)
            .where(address == sa.bindparam("old"), *same_row)
            .values({column: sa.bindparam("new")}),
            moves,
        )
    return stayed


def upgrade() -> None:
    conn = op.get_bind()
    # A mailbox row only says that the mailbox exists: one under another spelling is redundant.
    redundant = _move_keys(conn, _MAILBOXES, "address", ())
    if redundant:
        conn.execute(
            sa.delete(_MAILBOXES).where(_MAILBOXES.c.address == sa.bindparam("old")), redundant
        )
    _move_keys(conn, _MESSAGES, "mailbox_address", ("message_id",))
    _move_keys(conn, _MESSAGE_ATTACHMENTS, "mailbox_address", ("message_id", "attachment_id"))
    for table, column in (
        (_MESSAGES, "sender_address"),
        (_MESSAGES, "recipient_address"),
        (_ATTACHMENTS, "uploaded_by"),
    ):
        c = table.c[column]
        conn.execute(sa.update(table).where(_mixed(c)).values({column: sa.func.lower(c)}))


def downgrade() -> None:
    # The other spellings named the same mailboxes: there is nothing to restore.
    pass
