"""Reading the FINESS extract: check digits, categories, positions, rejected lines."""

from __future__ import annotations

import io

import pytest

from mes_admin.finess import ExtractError, RejectedLine, finess_problem, read_extract
from mes_admin.finess_gen import generate_extract

HEADER = b"finess;etalab;100;2026-11-30\n"


def structure(finess: str, category: str = "620", name: str = "PHARMACIE TEST") -> bytes:
    fields = [
        "structureet",
        finess,
        "750000000",
        name[:20],
        name,
        "",
        "",
        "12",
        "R",
        "DE LA PAIX",
        "",
        "",
        "056",
        "75",
        "PARIS",
        "75002 PARIS",
        "",
        "",
        category,
        "Pharmacie d'Officine",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]
    return (";".join(fields) + "\n").encode()


def geo(finess: str, x: str, y: str) -> bytes:
    return f"geolocalisation;{finess};{x};{y};1,ATLASANTE,100,IGN,BD_ADRESSE;2024-01-01\n".encode()


@pytest.mark.parametrize(
    "finess",
    # Legal entities of public hospitals, as published in the FINESS register: AP-HP,
    # AP-HM, Hospices civils de Lyon, CHU de Bordeaux.
    ["750712184", "130786049", "690781810", "330781196"],
)
def test_real_finess_numbers_pass_the_check_digit(finess: str) -> None:
    assert finess_problem(finess) is None


@pytest.mark.parametrize(
    ("finess", "problem"),
    [
        ("750712185", "wrong check digit"),
        ("75071218", "a FINESS number is 9 characters"),
        ("7507121X4", "a FINESS number is digits (2A/2B for Corsica)"),
    ],
)
def test_wrong_finess_numbers_say_why(finess: str, problem: str) -> None:
    assert finess_problem(finess) == problem


def test_pharmacies_only_with_wgs84_positions_and_rejected_lines_numbered() -> None:
    good, other, bad_key = "750000010", "750000028", "750000011"
    assert finess_problem(good) is None and finess_problem(other) is None
    data = (
        HEADER
        + structure(good)
        + structure(other, category="355")
        + structure(bad_key)
        + b"structureet;too;short\n"
        # The origin of Lambert 93: 3 deg E, 46.5 deg N.
        + geo(good, "700000.0", "6600000.0")
        + geo(other, "650000", "6860000")
        + geo(bad_key, "1", "2")
    )
    rejected: list[RejectedLine] = []
    (pharmacy,) = read_extract(io.BytesIO(data), rejected)
    assert pharmacy.finess == good
    assert (pharmacy.postal_code, pharmacy.city) == ("75002", "PARIS")
    assert pharmacy.address_line == "12 R DE LA PAIX"
    assert pharmacy.lat == pytest.approx(46.5, abs=1e-6)
    assert pharmacy.lon == pytest.approx(3.0, abs=1e-6)
    assert rejected == [
        RejectedLine(4, bad_key, "wrong check digit"),
        RejectedLine(5, "too", "missing fields"),
    ]


def test_overseas_positions_use_their_own_projection() -> None:
    # Saint-Denis de La Réunion in UTM 40S (RGR92).
    reunion = "974000010"
    assert finess_problem(reunion) is None
    data = HEADER + structure(reunion) + geo(reunion, "338500", "7690500")
    (pharmacy,) = read_extract(io.BytesIO(data), [])
    assert pharmacy.lat is not None and pharmacy.lon is not None
    assert -21.0 < pharmacy.lat < -20.8
    assert 55.3 < pharmacy.lon < 55.6


def test_a_file_that_is_not_an_extract_is_refused() -> None:
    with pytest.raises(ExtractError):
        list(read_extract(io.BytesIO(b"ins,finess,date\n"), []))


def test_the_generated_extract_reads_back_whole() -> None:
    lines = [(line + "\n").encode() for line in generate_extract(500, other_lines=200)]
    rejected: list[RejectedLine] = []
    pharmacies = list(read_extract(lines, rejected))
    assert len(pharmacies) == 500
    assert rejected == []
    assert all(p.lat is not None and 41 < p.lat < 51.5 for p in pharmacies)
    assert {p.city for p in pharmacies} >= {"PARIS", "LYON", "AJACCIO", "BASTIA"}
