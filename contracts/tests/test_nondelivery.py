"""Non-delivery report texts, verbatim from DOMAIN.md."""

import pytest

from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT, NonDeliveryReason, non_delivery_text

ADDRESS = "279035121518989@patient.mssante.fr"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            NonDeliveryReason.NOT_FOUND,
            'Le message que vous avez envoyé à l\'adresse "279035121518989@patient.mssante.fr" '
            "n'a pas pu être distribué, car cette adresse Mon espace santé n'existe pas.",
        ),
        (
            NonDeliveryReason.CLOSED,
            'Le message que vous avez envoyé à l\'adresse "279035121518989@patient.mssante.fr" '
            "n'a pas pu être distribué, car la messagerie Mon espace santé de votre "
            "destinataire est clôturée.",
        ),
        (
            NonDeliveryReason.INVALID,
            'Le message que vous avez envoyé à l\'adresse "279035121518989@patient.mssante.fr" '
            "n'a pas pu être distribué, car cette adresse Mon espace santé est invalidé.",
        ),
        (
            NonDeliveryReason.TOO_LARGE,
            'Le message que vous avez envoyé à l\'adresse "279035121518989@patient.mssante.fr" '
            "n'a pas pu être distribué, car sa taille dépasse la limite autorisée de 25 Mo "
            "(26 214 400 octets).",
        ),
    ],
)
def test_texts(reason: NonDeliveryReason, expected: str) -> None:
    assert non_delivery_text(reason, ADDRESS) == expected


def test_address_is_inserted_verbatim() -> None:
    text = non_delivery_text(NonDeliveryReason.INVALID, "{0}@patient.mssante.fr")
    assert '"{0}@patient.mssante.fr"' in text


def test_subject_and_reasons() -> None:
    assert NON_DELIVERY_SUBJECT == "Message non distribué"
    assert {r.value for r in NonDeliveryReason} == {"not_found", "closed", "invalid", "too_large"}


def test_one_mo_is_1_048_576_bytes() -> None:
    from mes_contracts.nondelivery import MAX_MESSAGE_BYTES, MAX_MESSAGE_SIZE_MO

    assert MAX_MESSAGE_BYTES == MAX_MESSAGE_SIZE_MO * 1_048_576 == 26_214_400
