"""FINESS numbers: 9 characters, the last a Luhn check digit over the first 8.

The first two characters are the department: digits, or ``2A``/``2B`` for Corsica, which count
as ``20`` (the department's number before its split) in the check digit's computation.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = ["FinessProblem", "finess_problem", "luhn_digit"]

_SHAPE = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{7}")


class FinessProblem(StrEnum):
    MALFORMED = "malformed"
    CHECK_DIGIT = "check_digit"


def luhn_digit(digits: str) -> int:
    """The digit that makes ``digits`` + it pass Luhn's test."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the rightmost of the payload is next to the key
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def finess_problem(value: str) -> FinessProblem | None:
    """What is wrong with ``value`` as a FINESS number, or None when it is one."""
    if not _SHAPE.fullmatch(value):
        return FinessProblem.MALFORMED
    payload = value[:8]
    if payload[:2] in ("2A", "2B"):
        payload = "20" + payload[2:]
    if luhn_digit(payload) != int(value[8]):
        return FinessProblem.CHECK_DIGIT
    return None
