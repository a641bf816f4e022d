"""The directory's rules, without storage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mes_contracts.addresses import MailboxType
from mes_pharmacy_directory.domain.errors import (
    InvalidAddress,
    InvalidCursor,
    InvalidFiness,
    InvalidName,
    InvalidRpps,
    NameTooLong,
    PharmacyRequiresOrg,
)
from mes_pharmacy_directory.domain.model import (
    decode_cursor,
    encode_cursor,
    normalise_address,
    normalise_search,
    registered_entry,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def entry(**changes: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = dict(
        address="Pharmacie.Centrale@Officine.MSSante.fr",
        type=MailboxType.ORG,
        display_name="Pharmacie Centrale",
        rpps=None,
        finess="750012345",
        pharmacy=True,
        now=NOW,
    )
    fields.update(changes)
    return registered_entry(**fields)  # type: ignore[arg-type]


def test_the_address_is_stored_in_lower_case() -> None:
    assert entry().address == "pharmacie.centrale@officine.mssante.fr"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("279035121518989@patient.mssante.fr", "patient_domain"),
        ("dr.martin@gmail.com", "not_mssante"),
        ("no-at-sign.mssante.fr", "malformed"),
    ],
)
def test_addresses_outside_the_health_actors_space_are_refused(address: str, reason: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        normalise_address(address)
    assert caught.value.code == "invalid_address"
    assert caught.value.extra["reason"] == reason


def test_a_pharmacy_needs_an_org_mailbox_and_a_finess() -> None:
    with pytest.raises(PharmacyRequiresOrg):
        entry(type=MailboxType.PER)
    with pytest.raises(InvalidFiness):
        entry(finess=None)


@pytest.mark.parametrize("rpps", ["1000123456", "100012345678", "1000123456A"])
def test_an_rpps_is_eleven_digits(rpps: str) -> None:
    with pytest.raises(InvalidRpps):
        entry(type=MailboxType.PER, pharmacy=False, finess=None, rpps=rpps)


@pytest.mark.parametrize("finess", ["75001234", "7500123456", "3A0012345"])
def test_a_finess_is_nine_characters(finess: str) -> None:
    with pytest.raises(InvalidFiness):
        entry(finess=finess)


def test_corsican_finess_numbers_are_accepted_in_any_case() -> None:
    assert entry(finess="2a0001234").finess == "2A0001234"


def test_search_ignores_case_and_accents() -> None:
    assert normalise_search("  Pharmacie   GÉNÉRALE ") == "pharmacie generale"
    assert "generale" in entry(display_name="Pharmacie Générale").search_text


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor(encode_cursor("a@b.mssante.fr")) == "a@b.mssante.fr"
    with pytest.raises(InvalidCursor):
        decode_cursor("not a cursor!")


def test_a_patient_address_is_refused_as_an_address_before_any_pharmacy_rule() -> None:
    for changes in ({"finess": None}, {"type": MailboxType.CAB}, {"finess": "1"}):
        with pytest.raises(InvalidAddress) as caught:
            entry(address="279035121518989@patient.mssante.fr", **changes)
        assert caught.value.extra["reason"] == "patient_domain"


@pytest.mark.parametrize("name", ["A\rB", "A\nB", "A\x00B", "A\x7fB", "A\u202eB", "A\u2069B"])
def test_a_display_name_is_one_line_without_controls(name: str) -> None:
    with pytest.raises(InvalidName) as caught:
        entry(display_name=name)
    assert caught.value.extra == {"field": "display_name", "reason": "control_characters"}


def test_a_display_name_is_trimmed_and_at_most_200_characters() -> None:
    assert entry(display_name="\t Pharmacie Centrale \n").display_name == "Pharmacie Centrale"
    assert entry(display_name="é" * 200).display_name == "é" * 200
    with pytest.raises(NameTooLong):
        entry(display_name="é" * 201)
    with pytest.raises(InvalidName):
        entry(display_name=" \n ")


@pytest.mark.parametrize(
    "address", ["a\x00@b.mssante.fr", "A@b.mssante.fr", "a@b.example", "@b.mssante.fr"]
)
def test_cursors_other_than_a_stored_address_are_refused(address: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(address))
