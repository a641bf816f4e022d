"""How a health actor ends a conversation with a patient.

Either the subject is exactly ``[FIN]`` (five characters, as written, nothing around
them) or the message carries the header ``X-MSS-MES: FIN``. The match is deliberately
exact: a professional writing "[FIN] merci" has not asked to close anything.

Exact is only safe if what is shown is what is compared: a subject holding invisible format
characters (zero-width space, a left-to-right or right-to-left mark, ...) would show "[FIN]"
on a conversation that is still open. Such a subject is refused (``hidden_character``).
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "FIN_SUBJECT",
    "MSS_MES_FIN",
    "MSS_MES_HEADER",
    "hidden_character",
    "is_fin_subject",
]

FIN_SUBJECT = "[FIN]"
MSS_MES_HEADER = "X-MSS-MES"
MSS_MES_FIN = "FIN"


def is_fin_subject(subject: str) -> bool:
    """Tell whether a subject closes the conversation: exactly ``[FIN]``, case included."""
    return subject == FIN_SUBJECT


_ZWJ = "\u200d"
_EMOJI_PRESENTATION = "\ufe0f"
_BLACK_FLAG = "\U0001f3f4"
_TAGS = range(0xE0020, 0xE0080)  # the letters of a subdivision flag, after a black flag


def _is_emoji(char: str) -> bool:
    # Symbols (So) and skin-tone modifiers (Sk): what a zero-width joiner joins into one emoji.
    return unicodedata.category(char) in ("So", "Sk") or char == _EMOJI_PRESENTATION


def hidden_character(text: str) -> str | None:
    """The first invisible format character (Unicode category ``Cf``) of ``text``, or None.

    Those that build an emoji are part of what is shown, and allowed: a zero-width joiner
    between two emoji (👩‍⚕️) and the tag characters of a subdivision flag.
    """
    for i, char in enumerate(text):
        if unicodedata.category(char) != "Cf":
            continue
        if (
            char == _ZWJ
            and 0 < i < len(text) - 1
            and _is_emoji(text[i - 1])
            and _is_emoji(text[i + 1])
        ):
            continue
        if ord(char) in _TAGS:
            start = i
            while start > 0 and ord(text[start - 1]) in _TAGS:
                start -= 1
            if start > 0 and text[start - 1] == _BLACK_FLAG:
                continue
        return char
    return None
