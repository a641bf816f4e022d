"""Names shown to people: one line of plain text, no longer than any copy of it may be.

Patients' names and health actors' display names are shown to the other side, and copied as
the correspondent's name into every message and conversation. A line break there could forge a
header line in a mail or a notification; a bidirectional override makes a name read
differently from what it is. So a name carries neither, and is trimmed of the blanks around it
(an operator's copy and paste, or a re-import, must not make two spellings of one name).
"""

from __future__ import annotations

import unicodedata

from .errors import Unprocessable

__all__ = ["NAME_MAX_LENGTH", "InvalidName", "NameTooLong", "breaks_a_line", "shown_name"]

NAME_MAX_LENGTH = 200
"""In characters, for every name: the display name travels in events to the mailbox service,
whose copies of a correspondent's name hold 200 characters."""

# Explicit embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI).
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
# Control characters (CR, LF, TAB, NUL, DEL, C1), line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


class InvalidName(Unprocessable):
    code = "invalid_name"
    title = "Not a name that can be shown"


class NameTooLong(Unprocessable):
    code = "name_too_long"
    title = "Name too long"


def breaks_a_line(char: str) -> bool:
    """Whether ``char`` has no place in one line of text shown to people (a name, a subject):
    a control character, a line break, or a bidirectional embedding, override or isolate."""
    return char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES


def shown_name(value: str, *, field: str) -> str:
    """``value`` trimmed, once it is a name that may be stored and shown; ``field`` names it
    in the refusal, so that an operator knows which one to correct."""
    name = value.strip()
    if not name:
        raise InvalidName(f"{field} must not be empty.", field=field, reason="empty")
    refused = next((c for c in name if breaks_a_line(c)), None)
    if refused is not None:
        raise InvalidName(
            f"{field} must be one line of text, without control characters "
            f"(found U+{ord(refused):04X}).",
            field=field,
            reason="control_characters",
        )
    if len(name) > NAME_MAX_LENGTH:
        raise NameTooLong(
            f"{field} must be at most {NAME_MAX_LENGTH} characters, got {len(name)}.",
            field=field,
            max_length=NAME_MAX_LENGTH,
        )
    return name
