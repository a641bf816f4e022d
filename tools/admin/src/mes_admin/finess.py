"""The official FINESS extract of establishments (``etalab-cs1100507-stock-*.csv``), read as a
stream: the pharmacies (category 620, "Pharmacie d'Officine") with their WGS84 positions.

The file: a first line ``finess;etalab;<version>;<date>``, then ``structureet`` records (one per
establishment, 32 fields), then ``geolocalisation`` records (``nofinesset;coordxet;coordyet;
sourcecoordet;datemaj``) whose coordinates are Lambert 93 (EPSG:2154) in metropolitan France
and UTM in the overseas departments. Only the pharmacies are kept in memory (about 22,000),
never the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Final

from pyproj import Transformer

__all__ = [
    "PHARMACY_CATEGORY",
    "ExtractError",
    "FinessPharmacy",
    "RejectedLine",
    "finess_problem",
    "luhn_digit",
    "read_extract",
]

PHARMACY_CATEGORY: Final = "620"
STRUCTURE_FIELDS: Final = 32
GEO_FIELDS: Final = 6

# Coordinates by department: Lambert 93 in metropolitan France; the overseas departments' UTM
# zones (RGAF09 UTM 20N for the Antilles, RGFG95 UTM 22N, RGR92 UTM 40S, RGM04 UTM 38S).
_CRS_BY_DEPARTMENT: Final = {
    "971": "EPSG:5490",
    "972": "EPSG:5490",
    "977": "EPSG:5490",
    "978": "EPSG:5490",
    "973": "EPSG:2972",
    "974": "EPSG:2975",
    "976": "EPSG:4471",
}
_METROPOLE: Final = "EPSG:2154"


class ExtractError(Exception):
    """The file is not a FINESS extract (its first line says so)."""


@dataclass(frozen=True)
class FinessPharmacy:
    line: int
    finess: str
    name: str
    address_line: str | None
    postal_code: str | None
    city: str | None
    lat: float | None = None
    lon: float | None = None

    def record(self) -> dict[str, object]:
        """The body of one pharmacy in ``POST /v1/admin/pharmacies/batches``."""
        return {
            "finess": self.finess,
            "name": self.name[:200],
            "address_line": (self.address_line or None) and self.address_line[:300],
            "postal_code": self.postal_code,
            "city": (self.city or None) and self.city[:100],
            "lat": self.lat,
            "lon": self.lon,
        }


@dataclass(frozen=True)
class RejectedLine:
    line: int
    finess: str
    reason: str


def luhn_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return (10 - total % 10) % 10


def finess_problem(value: str) -> str | None:
    """Why ``value`` is not a FINESS number (9 characters, Luhn check digit over the first 8;
    Corsica's 2A/2B count as 20), or None."""
    if len(value) != 9:
        return "a FINESS number is 9 characters"
    payload = value[:8]
    if payload[:2] in ("2A", "2B"):
        payload = "20" + payload[2:]
    if not (payload.isascii() and payload.isdigit() and value[8].isdigit()):
        return "a FINESS number is digits (2A/2B for Corsica)"
    if luhn_digit(payload) != int(value[8]):
        return "wrong check digit"
    return None


def _text(value: str) -> str:
    return " ".join(value.split())


def _address(fields: list[str]) -> str | None:
    # numvoie, typvoie, voie, compvoie, then lieuditbp on its own.
    street = _text(" ".join(fields[7:11]))
    parts = [p for p in (street, _text(fields[11])) if p]
    return ", ".join(parts) or None


def _postal_and_city(ligne: str) -> tuple[str | None, str | None]:
    """``ligneacheminement``: "75011 PARIS", "13008 MARSEILLE CEDEX 08"."""
    ligne = _text(ligne)
    code, _, city = ligne.partition(" ")
    if len(code) == 5 and code.isdigit():
        return code, city or None
    return None, ligne or None


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older extracts


def _with_positions(
    pharmacies: dict[str, FinessPharmacy], raw: dict[str, tuple[float, float]]
) -> None:
    """Convert every position at once per projection (one call per array, not per point)."""
    by_crs: dict[str, list[str]] = {}
    for finess in raw:
        by_crs.setdefault(_CRS_BY_DEPARTMENT.get(finess[:3], _METROPOLE), []).append(finess)
    for crs, finesses in by_crs.items():
        transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lons, lats = transformer.transform(
            [raw[f][0] for f in finesses], [raw[f][1] for f in finesses]
        )
        for finess, lat, lon in zip(finesses, lats, lons, strict=True):
            if math.isfinite(lat) and math.isfinite(lon):
                pharmacies[finess] = replace(
                    pharmacies[finess], lat=round(lat, 7), lon=round(lon, 7)
                )


def read_extract(lines: Iterable[bytes], rejected: list[RejectedLine]) -> Iterator[FinessPharmacy]:
    """The pharmacies of the extract, each with its position when a geolocalisation record
    gives one; what cannot be used is appended to ``rejected`` with its line number and
    reason. Yields once the whole file is read (positions come after the establishments)."""
    iterator = iter(lines)
    first = _decoded(next(iterator, b"")).strip().lstrip("\ufeff")
    if not first.lower().startswith("finess;etalab"):
        raise ExtractError("not a FINESS extract: the first line is not 'finess;etalab;...'")
    pharmacies: dict[str, FinessPharmacy] = {}
    raw_positions: dict[str, tuple[float, float]] = {}
    for number, raw in enumerate(iterator, start=2):
        if not raw.strip():
            continue
        text = _decoded(raw).rstrip("\r\n")
        kind, _, _ = text.partition(";")
        if kind == "structureet":
            fields = text.split(";")
            if len(fields) < STRUCTURE_FIELDS:
                rejected.append(
                    RejectedLine(number, fields[1] if len(fields) > 1 else "", "missing fields")
                )
                continue
            if fields[18].strip() != PHARMACY_CATEGORY:
                continue
            finess = fields[1].strip().upper()
            problem = finess_problem(finess)
            if problem is not None:
                rejected.append(RejectedLine(number, finess, problem))
                continue
            name = _text(fields[4]) or _text(fields[3])
            if not name:
                rejected.append(RejectedLine(number, finess, "no name"))
                continue
            postal_code, city = _postal_and_city(fields[15])
            pharmacies[finess] = FinessPharmacy(
                number, finess, name, _address(fields), postal_code, city
            )
        elif kind == "geolocalisation":
            fields = text.split(";")
            finess = fields[1].strip().upper() if len(fields) > 1 else ""
            pharmacy = pharmacies.get(finess)
            if pharmacy is None:
                continue  # another category's
            try:
                x, y = float(fields[2]), float(fields[3])
                if not (math.isfinite(x) and math.isfinite(y)):
                    raise ValueError
            except (ValueError, IndexError):
                rejected.append(RejectedLine(number, finess, "coordinates are not numbers"))
                continue
            raw_positions[finess] = (x, y)
        else:
            rejected.append(RejectedLine(number, "", f"unknown record type {kind[:30]!r}"))
    _with_positions(pharmacies, raw_positions)
    yield from pharmacies.values()
