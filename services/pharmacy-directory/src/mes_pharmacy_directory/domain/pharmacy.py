"""Pharmacies (officines) as establishments, how a patient finds them, and how far they are."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import date

from .errors import InvalidCursor, InvalidFiness, InvalidQuery
from .finess import FinessProblem, finess_problem
from .model import checked_query, normalise_search

__all__ = [
    "EARTH_RADIUS_M",
    "STOP_WORDS",
    "Dispensation",
    "GeoPoint",
    "Pharmacy",
    "PharmacyCursor",
    "checked_finess",
    "distance_m",
    "parse_near",
    "pharmacy_words",
    "query_words",
]

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
_WORD = re.compile(r"[0-9a-z]+")
MAX_QUERY_WORDS = 8


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True)
class Pharmacy:
    finess: str
    name: str
    address_line: str | None
    postal_code: str | None
    city: str | None
    lat: float | None
    lon: float | None
    open: bool

    def same_content(self, other: Pharmacy) -> bool:
        return self == other

    @property
    def sort_name(self) -> str:
        """The order of a listing by name: case- and accent-insensitive."""
        return normalise_search(self.name)

    @property
    def words(self) -> frozenset[str]:
        return pharmacy_words(self.name, self.address_line, self.postal_code, self.city)


# Words nearly every pharmacy's name or address holds: they tell no pharmacy from another, so
# they are neither indexed nor searched (nor is a single character; nor, in a search, the
# start of "pharmacie").
STOP_WORDS = frozenset(
    [
        "pharmacie",
        "pharmacies",
        "grande",
        "de",
        "du",
        "des",
        "la",
        "le",
        "les",
        "l",
        "d",
        "et",
        "en",
        "au",
        "aux",
        "sur",
    ]
)


_PHARMACIE = "pharmacies"


def pharmacy_words(*parts: str | None) -> frozenset[str]:
    """The words a search matches by prefix: "Pharmacie de l'Église, 75011 Paris" gives
    ``eglise``, ``75011``, ``paris``."""
    words = _WORD.findall(normalise_search(" ".join(p for p in parts if p)))
    return frozenset(w for w in words if len(w) > 1 and w not in STOP_WORDS)


def query_words(q: str) -> list[str]:
    """The words of a search text, each to be the prefix of some word of a pharmacy; the
    words that would match nearly all ("de", "pharm") restrict nothing and are left out."""
    words = set(_WORD.findall(normalise_search(checked_query(q))))
    if not words:
        raise InvalidQuery("The search text holds no letter or digit.")
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidQuery(f"At most {MAX_QUERY_WORDS} words.")
    return sorted(
        w for w in words if len(w) > 1 and w not in STOP_WORDS and not _PHARMACIE.startswith(w)
    )


def checked_finess(value: str) -> str:
    problem = finess_problem(value.strip().upper())
    if problem is FinessProblem.MALFORMED:
        raise InvalidFiness(
            "A FINESS number is 9 characters: 9 digits, or 2A/2B then 7 digits.",
            reason=problem.value,
        )
    if problem is FinessProblem.CHECK_DIGIT:
        raise InvalidFiness("The FINESS number's check digit is wrong.", reason=problem.value)
    return value.strip().upper()


def parse_near(value: str) -> GeoPoint:
    """``LAT,LON`` in decimal degrees (WGS84)."""
    try:
        lat_text, lon_text = value.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError as exc:
        raise InvalidQuery("'near' is LAT,LON in decimal degrees.", code="invalid_near") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise InvalidQuery("'near' is out of range.", code="invalid_near")
    return GeoPoint(lat, lon)


def distance_m(a: GeoPoint, lat: float, lon: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(a.lat), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class PharmacyCursor:
    """Keyset position: the last (sort key, FINESS) of a page; the sort key is the distance
    in metres when ordered by distance, the normalised name otherwise."""

    key: str | int
    finess: str

    def encode(self) -> str:
        raw = json.dumps([self.key, self.finess], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, *, by_distance: bool) -> PharmacyCursor:
        try:
            key, finess = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidCursor() from exc
        wanted = int if by_distance else str
        if not isinstance(key, wanted) or isinstance(key, bool) or not isinstance(finess, str):
            raise InvalidCursor()
        if finess_problem(finess) is not None:
            raise InvalidCursor()
        return cls(key, finess)


@dataclass(frozen=True)
class Dispensation:
    finess: str
    on: date
