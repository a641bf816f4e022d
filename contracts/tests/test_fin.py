"""Closing a conversation: the subject must be exactly "[FIN]"."""

import pytest

from mes_contracts.fin import FIN_SUBJECT, MSS_MES_FIN, MSS_MES_HEADER, is_fin_subject


@pytest.mark.parametrize(
    ("subject", "closes"),
    [
        ("[FIN]", True),
        ("[fin]", False),
        ("[Fin]", False),
        ("[FIN] merci", False),
        (" [FIN]", False),
        ("[FIN] ", False),
        ("[FIN]\n", False),
        ("FIN", False),
        ("Re: [FIN]", False),
        ("[ FIN ]", False),
        ("", False),
    ],
)
def test_is_fin_subject(subject: str, closes: bool) -> None:
    assert is_fin_subject(subject) is closes


def test_constants() -> None:
    assert FIN_SUBJECT == "[FIN]"
    assert (MSS_MES_HEADER, MSS_MES_FIN) == ("X-MSS-MES", "FIN")


def test_every_invisible_format_character_is_found_wherever_it_is() -> None:
    import sys
    import unicodedata

    from mes_contracts.fin import hidden_character

    format_chars = [
        chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"
    ]
    assert "\u200f" in format_chars and "\u200b" in format_chars
    for char in format_chars:
        for subject in (char + "[FIN]", "[FIN]" + char, "[F" + char + "IN]"):
            assert hidden_character(subject) == char, f"U+{ord(char):04X}"


@pytest.mark.parametrize(
    "subject",
    [
        "[FIN]",
        "Résultats 👩\u200d⚕️",  # a zero-width joiner inside an emoji sequence
        "👍🏽\u200d👍",
        "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",  # Wales
    ],
)
def test_what_builds_an_emoji_is_not_hidden(subject: str) -> None:
    from mes_contracts.fin import hidden_character

    assert hidden_character(subject) is None
