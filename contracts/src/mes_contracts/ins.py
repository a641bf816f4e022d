"""The matricule INS (Identifiant National de Santé): value type and validator.

A matricule INS is the 13-character NIR (or NIA) followed by its 2-digit control key,
15 characters in all. It is the local part of a patient's secure mailbox address, so a
wrong INS is the reason a message is reported as undeliverable ("invalidé").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

__all__ = [
    "INS_LENGTH",
    "Ins",
    "InsError",
    "InsInvalidReason",
    "check_ins",
    "ins_key",
    "validate_ins",
]

INS_LENGTH = 15
_NIR_LENGTH = 13
_DEPARTMENT = slice(5, 7)
# Corsica's departments carry letters; the key is computed as if they were these digits.
_CORSICA_AS_DIGITS = {"2A": "19", "2B": "18"}


class InsInvalidReason(StrEnum):
    """Why a string is not a matricule INS; stable codes that API layers may expose."""

    WRONG_LENGTH = "wrong_length"
    BAD_CHARACTERS = "bad_characters"
    WRONG_KEY = "wrong_key"


class InsError(ValueError):
    """A string is not a valid matricule INS.

    The message starts with the reason code ("wrong_key: ...") so that the code survives
    layers (pydantic) that keep only the message.
    """

    def __init__(self, reason: InsInvalidReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")


def _numeric_nir(nir13: str) -> str:
    """Return the NIR as 13 digits (Corsica letters replaced), or raise BAD_CHARACTERS."""
    department = nir13[_DEPARTMENT].upper()
    if department in _CORSICA_AS_DIGITS:
        nir13 = nir13[:5] + _CORSICA_AS_DIGITS[department] + nir13[7:]
    # isascii() first: str.isdigit() accepts non-ASCII digits such as "٣" or "²".
    if not (nir13.isascii() and nir13.isdigit()):
        raise InsError(
            InsInvalidReason.BAD_CHARACTERS,
            "INS must be digits only, except 2A or 2B at positions 6-7",
        )
    return nir13


def ins_key(nir13: str) -> str:
    """Return the 2-digit control key ("01" to "97") of a 13-character NIR or NIA."""
    if len(nir13) != _NIR_LENGTH:
        raise InsError(
            InsInvalidReason.WRONG_LENGTH,
            f"NIR must be {_NIR_LENGTH} characters, got {len(nir13)}",
        )
    return f"{97 - int(_numeric_nir(nir13)) % 97:02d}"


def validate_ins(value: str) -> str:
    """Return the normalised INS (Corsica letters upper case) or raise InsError.

    Surrounding whitespace is not stripped: what is not exactly the matricule is refused,
    because the same string is used verbatim as a mailbox address.
    """
    if len(value) != INS_LENGTH:
        raise InsError(
            InsInvalidReason.WRONG_LENGTH,
            f"INS must be {INS_LENGTH} characters, got {len(value)}",
        )
    nir, key = value[:_NIR_LENGTH], value[_NIR_LENGTH:]
    _numeric_nir(nir)
    if not (key.isascii() and key.isdigit()):
        raise InsError(InsInvalidReason.BAD_CHARACTERS, "INS key must be 2 digits")
    expected = ins_key(nir)
    if key != expected:
        raise InsError(InsInvalidReason.WRONG_KEY, f"INS key is {key}, expected {expected}")
    return value.upper()


def check_ins(value: str) -> InsInvalidReason | None:
    """Return why value is not a valid INS, or None when it is."""
    try:
        validate_ins(value)
    except InsError as error:
        return error.reason
    return None


Ins = Annotated[str, AfterValidator(validate_ins)]
"""A matricule INS field for pydantic models; normalised, errors start with the reason code."""
