"""How a health actor ends a conversation with a patient.

Either the subject is exactly ``[FIN]`` (five characters, as written, nothing around
them) or the message carries the header ``X-MSS-MES: FIN``. The match is deliberately
exact: a professional writing "[FIN] merci" has not asked to close anything.
"""

from __future__ import annotations

__all__ = ["FIN_SUBJECT", "MSS_MES_FIN", "MSS_MES_HEADER", "is_fin_subject"]

FIN_SUBJECT = "[FIN]"
MSS_MES_HEADER = "X-MSS-MES"
MSS_MES_FIN = "FIN"


def is_fin_subject(subject: str) -> bool:
    """Tell whether a subject closes the conversation: exactly ``[FIN]``, case included."""
    return subject == FIN_SUBJECT
