"""A national-size FINESS extract, generated deterministically (benchmarks, import figures).

Same format as the official ``etalab-cs1100507-stock-*.csv``: the header line, ``structureet``
records (pharmacies, category 620, around real city centres; optionally establishments of
other categories), then ``geolocalisation`` records in Lambert 93. FINESS numbers carry a
valid check digit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from pyproj import Transformer

from .finess import luhn_digit

__all__ = ["CITIES", "generate_extract", "write_extract"]

# name, postal code, department, latitude, longitude, pharmacies in a national extract
CITIES: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("PARIS", "75011", "75", 48.8566, 2.3522, 1000),
    ("MARSEILLE", "13001", "13", 43.2965, 5.3698, 350),
    ("LYON", "69002", "69", 45.7640, 4.8357, 300),
    ("TOULOUSE", "31000", "31", 43.6047, 1.4442, 250),
    ("NICE", "06000", "06", 43.7102, 7.2620, 200),
    ("NANTES", "44000", "44", 47.2184, -1.5536, 130),
    ("STRASBOURG", "67000", "67", 48.5734, 7.7521, 120),
    ("MONTPELLIER", "34000", "34", 43.6108, 3.8767, 130),
    ("BORDEAUX", "33000", "33", 44.8378, -0.5792, 150),
    ("LILLE", "59000", "59", 50.6292, 3.0573, 140),
    ("RENNES", "35000", "35", 48.1173, -1.6778, 90),
    ("REIMS", "51100", "51", 49.2583, 4.0317, 60),
    ("DIJON", "21000", "21", 47.3220, 5.0415, 55),
    ("GRENOBLE", "38000", "38", 45.1885, 5.7245, 80),
    ("CLERMONT-FERRAND", "63000", "63", 45.7772, 3.0870, 60),
    ("ROUEN", "76000", "76", 49.4432, 1.0999, 60),
    ("BREST", "29200", "29", 48.3904, -4.4861, 40),
    ("LIMOGES", "87000", "87", 45.8336, 1.2611, 45),
    ("AJACCIO", "20000", "2A", 41.9192, 8.7386, 25),
    ("BASTIA", "20200", "2B", 42.6977, 9.4508, 20),
)
NATIONAL = 22_000
_TOWN_NAMES = ("SAINT-MARTIN", "VILLENEUVE", "BOURG", "MONTFORT", "BEAUMONT", "CHATEAUNEUF")
_DEPARTMENTS = tuple(f"{d:02d}" for d in range(1, 96) if d != 20)
_STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "place de l'Église",
    "boulevard Victor Hugo",
    "rue Pasteur",
    "rue du Général de Gaulle",
    "place du Marché",
    "avenue de la Gare",
    "rue Nationale",
    "cours Gambetta",
)
_NAMES = (
    "Pharmacie du Centre",
    "Pharmacie de la Gare",
    "Grande Pharmacie",
    "Pharmacie de l'Église",
    "Pharmacie du Marché",
    "Pharmacie des Écoles",
    "Pharmacie Pasteur",
    "Pharmacie Principale",
    "Pharmacie de la Mairie",
    "Pharmacie Saint-Éloi",
    "Pharmacie des Halles",
    "Pharmacie du Parc",
)
_OTHER = (
    ("355", "Centre Hospitalier (C.H.)"),
    ("124", "Centre de Santé"),
    ("500", "EHPAD"),
    ("603", "Maison de santé (L.6223-3)"),
)


_SOURCE = "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93"
_TYPVOIE = {"rue": "R", "avenue": "AV", "place": "PL", "boulevard": "BD", "cours": "CRS"}


def _finess(department: str, serial: int) -> str:
    payload = f"{department}{serial:06d}"
    digits = "20" + payload[2:] if department in ("2A", "2B") else payload
    return payload + str(luhn_digit(digits))


def _structure(
    finess: str,
    category: tuple[str, str],
    name: str,
    number: int,
    street: str,
    postal: str,
    city: str,
    department: str,
) -> str:
    kind, words = street.split(" ", 1)
    kind = _TYPVOIE.get(kind, kind[:4].upper())
    fields = [
        "structureet",
        finess,
        _finess(department, 900_000 + int(finess[3:8]) % 99_999),
        name.upper()[:38],
        name,
        "",
        "",
        str(number),
        kind[:4].upper(),
        words.upper(),
        "",
        "",
        "056",
        department,
        "",
        f"{postal} {city}",
        "0100000000",
        "",
        category[0],
        category[1],
        "1201",
        "",
        "",
        "4773Z",
        "01",
        "",
        "",
        "",
        "2001-01-01",
        "2001-01-01",
        "2024-01-01",
        "",
    ]
    return ";".join(fields)


def generate_extract(pharmacies: int, other_lines: int = 0, seed: int = 2154) -> Iterator[str]:
    """The lines of an extract of ``pharmacies`` pharmacies, plus ``other_lines`` lines of
    other establishments (with their geolocalisation records)."""
    rng = random.Random(seed)
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    yield "finess;etalab;100;2026-11-30"
    positions: list[tuple[str, float, float]] = []
    places: list[tuple[str, str, str, float, float, int, float]] = []
    in_cities = 0
    for city, postal, department, lat, lon, national in CITIES:
        count = min(pharmacies - in_cities, max(1, round(national * pharmacies / NATIONAL)))
        in_cities += count
        # About 2.5 km around Paris's centre, less in smaller cities.
        places.append((city, postal, department, lat, lon, count, 0.025 * (national / 1000) ** 0.5))
    # The rest in towns all over metropolitan France, one to four pharmacies each.
    left, town = pharmacies - in_cities, 0
    while left > 0:
        town += 1
        count = min(left, rng.randint(1, 4))
        left -= count
        department = rng.choice(_DEPARTMENTS)
        places.append(
            (
                f"{rng.choice(_TOWN_NAMES)}-{town}",
                f"{department}{rng.randint(0, 999):03d}",
                department,
                rng.uniform(43.2, 50.8),
                rng.uniform(-1.5, 7.5),
                count,
                0.004,
            )
        )
    serial = 0
    for city, postal, department, lat, lon, count, spread in places:
        for _ in range(count):
            serial += 1
            finess = _finess(department, serial)
            name = f"{rng.choice(_NAMES)} {serial}" if rng.random() < 0.3 else rng.choice(_NAMES)
            street = rng.choice(_STREETS)
            yield _structure(
                finess,
                ("620", "Pharmacie d'Officine"),
                name,
                rng.randint(1, 200),
                street,
                postal,
                city,
                department,
            )
            positions.append((finess, lat + rng.gauss(0, spread), lon + rng.gauss(0, spread)))
    for i in range(other_lines // 2):
        city, postal, department, lat, lon, _ = CITIES[i % len(CITIES)]
        finess = _finess(department, 500_000 + i)
        yield _structure(
            finess,
            _OTHER[i % len(_OTHER)],
            f"Établissement {i}",
            1,
            "rue Pasteur",
            postal,
            city,
            department,
        )
        positions.append((finess, lat + rng.gauss(0, 0.05), lon + rng.gauss(0, 0.05)))
    for finess, lat, lon in positions:
        x, y = to_l93.transform(lon, lat)
        yield f"geolocalisation;{finess};{x:.1f};{y:.1f};{_SOURCE};2024-01-01"


def write_extract(path: Path, pharmacies: int, other_lines: int = 0, seed: int = 2154) -> int:
    """Write the extract; the number of lines written."""
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in generate_extract(pharmacies, other_lines, seed):
            out.write(line + "\n")
            written += 1
    return written
