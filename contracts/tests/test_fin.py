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
