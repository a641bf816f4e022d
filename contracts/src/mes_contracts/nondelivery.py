"""Non-delivery reports sent back, automatically, to a professional whose message failed.

The texts are the product's, verbatim (DOMAIN.md); professionals' software and support
teams recognise them, so do not reword them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_SIZE_MO",
    "NON_DELIVERY_SUBJECT",
    "NonDeliveryReason",
    "non_delivery_text",
]

NON_DELIVERY_SUBJECT = "Message non distribué"
# A message whose total size (subject and body in UTF-8, plus its attachments) exceeds this is
# refused like an undeliverable one. One Mo counts 1,048,576 bytes here (a mebibyte, as mail
# systems count sizes): 25 Mo is 26,214,400 bytes, and a message of exactly that size passes.
MAX_MESSAGE_SIZE_MO = 25
MAX_MESSAGE_BYTES = MAX_MESSAGE_SIZE_MO * 1024 * 1024

_PREFIX = (
    "Le message que vous avez envoyé à l'adresse \"{address}\" n'a pas pu être distribué, car "
)


class NonDeliveryReason(StrEnum):
    """Why a message to a patient was not delivered."""

    # The profile was opposed by the patient, or no profile exists for a valid INS.
    NOT_FOUND = "not_found"
    # The patient closed the profile.
    CLOSED = "closed"
    # The INS in the address has a wrong length, characters or key.
    INVALID = "invalid"
    # The message exceeds MAX_MESSAGE_SIZE_MO.
    TOO_LARGE = "too_large"


_ENDINGS: dict[NonDeliveryReason, str] = {
    NonDeliveryReason.NOT_FOUND: "cette adresse Mon espace santé n'existe pas.",
    NonDeliveryReason.CLOSED: "la messagerie Mon espace santé de votre destinataire est clôturée.",
    # "invalidé" (not "invalide") is how the product writes it; keep it.
    NonDeliveryReason.INVALID: "cette adresse Mon espace santé est invalidé.",
    # Not from DOMAIN.md, which gives no text for the size limit: written in the same style.
    NonDeliveryReason.TOO_LARGE: (
        f"sa taille dépasse la limite autorisée de {MAX_MESSAGE_SIZE_MO} Mo "
        f"({MAX_MESSAGE_BYTES:,} octets).".replace(",", " ")
    ),
}


def non_delivery_text(reason: NonDeliveryReason, address: str) -> str:
    """Return the French report text for a message to ``address`` that was not delivered."""
    return _PREFIX.format(address=address) + _ENDINGS[reason]
