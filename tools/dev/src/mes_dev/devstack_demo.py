"""Demo data for the development stack, loaded through the gateway's public API.

Run by ``mes-dev`` once the gateway is healthy: ``python -m mes_dev.devstack_demo --gateway
URL``. Every call is a PUT of a fixed value, so running it again (each ``make run``) changes
nothing. It prints one line per thing loaded; mes-dev shows them in its banner.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from mes_contracts.addresses import PatientAddress
from mes_contracts.ins import ins_key

__all__ = ["DEMO_PATIENTS", "DemoPatient", "demo_pharmacies", "load_demo", "main"]


@dataclass(frozen=True)
class DemoPatient:
    nir: str  # 13 characters; the INS adds the computed key
    state: str
    first_names: str
    birth_name: str
    app_installed: bool
    note: str

    @property
    def ins(self) -> str:
        return self.nir + ins_key(self.nir)

    @property
    def address(self) -> str:
        return PatientAddress.for_ins(self.ins).format()

    def body(self) -> dict[str, Any]:
        email = f"{self.first_names.split()[0]}.{self.birth_name}".lower() + "@example.org"
        return {
            "state": self.state,
            "birth_name": self.birth_name,
            "first_names": self.first_names,
            "email": email,
            "app_installed": self.app_installed,
        }


DEMO_PATIENTS: tuple[DemoPatient, ...] = (
    DemoPatient(
        "1850775123456",
        "created",
        "Camille",
        "MARTIN",
        False,
        "created, never activated: messages delivered",
    ),
    DemoPatient(
        "2790351215189",
        "activated",
        "Louise Anne",
        "BERNARD",
        True,
        "activated, mobile app installed: messages delivered",
    ),
    DemoPatient(
        "2920613055012",
        "activated",
        "Hugo",
        "PETIT",
        False,
        "activated, no mobile app: messages delivered",
    ),
    DemoPatient(
        "1710169123045",
        "opposed",
        "Paul",
        "DURAND",
        False,
        'opposed: messages bounce ("n\'existe pas")',
    ),
    DemoPatient(
        "2680833012007", "closed", "Marie", "LEROY", False, 'closed: messages bounce ("clôturée")'
    ),
    DemoPatient(
        "169052A004123",
        "activated",
        "Ghjuvanni",
        "SANTONI",
        True,
        "born in Corse-du-Sud (2A), activated, mobile app installed",
    ),
)


# MSSanté mailboxes of the demo: (address, type, display name, extra fields, note).
DEMO_MAILBOXES: tuple[tuple[str, str, str, dict[str, Any], str], ...] = (
    (
        "claire.martin@hopital-exemple.mssante.fr",
        "PER",
        "Dr Claire Martin",
        {"rpps": "10101234567"},
        "a physician (role professional)",
    ),
    (
        "pharmacie.marche@officine-exemple.mssante.fr",
        "ORG",
        "Pharmacie du Marché",
        {
            "finess": "750000010",
            "pharmacy": True,
            "alert_email": "alertes@pharmacie-du-marche.example",
        },
        "a pharmacy (FINESS 750000010): patients may write to it",
    ),
    (
        "resultats@labo-exemple.mssante.fr",
        "APP",
        "Laboratoire Exemple",
        {},
        "an application mailbox (role application): automatic results",
    ),
)


class DemoError(RuntimeError):
    pass


# Demo pharmacies: (city, first postal code, arrondissements, latitude, longitude, count).
_DEMO_CITIES = (
    ("PARIS", 75001, 20, 48.8566, 2.3522, 120),
    ("LYON", 69001, 9, 45.7640, 4.8357, 60),
    ("MARSEILLE", 13001, 16, 43.2965, 5.3698, 60),
    ("BORDEAUX", 33000, 1, 44.8378, -0.5792, 40),
    ("AJACCIO", 20000, 1, 41.9192, 8.7386, 20),
)
_DEMO_NAMES = (
    "Pharmacie de la Gare",
    "Pharmacie du Centre",
    "Grande Pharmacie",
    "Pharmacie de l'Église",
    "Pharmacie des Écoles",
    "Pharmacie Pasteur",
    "Pharmacie de la Mairie",
    "Pharmacie des Halles",
)
_DEMO_STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "boulevard Victor Hugo",
    "rue Pasteur",
    "place du Marché",
    "cours Gambetta",
)
# The demo patient with a dispensing history (Louise Anne BERNARD, activated).
DEMO_PHARMACY_PATIENT = 1


def _finess(department: str, serial: int) -> str:
    """A FINESS number with its Luhn check digit (Corsica's 2A/2B count as 20)."""
    payload = f"{department}{serial:06d}"
    digits = "20" + payload[2:] if department in ("2A", "2B") else payload
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return payload + str((10 - total % 10) % 10)


def demo_pharmacies() -> list[dict[str, Any]]:
    """300 pharmacies of five cities, the same at every run; the first is the Pharmacie du
    Marché of the demo mailboxes; one in five has an organisational mailbox."""
    rng = random.Random(2023)
    out: list[dict[str, Any]] = []
    serial = 0
    for city, postal, districts, lat, lon, count in _DEMO_CITIES:
        department = "2A" if city == "AJACCIO" else f"{postal // 1000:02d}"
        for _ in range(count):
            serial += 1
            first = serial == 1
            out.append(
                {
                    "finess": _finess(department, serial),
                    "name": "Pharmacie du Marché"
                    if first
                    else f"{rng.choice(_DEMO_NAMES)} {city.title()} {serial}",
                    "address_line": f"{rng.randint(1, 150)} {rng.choice(_DEMO_STREETS)}",
                    "postal_code": f"{postal + rng.randrange(districts):05d}",
                    "city": city,
                    "lat": round(lat + rng.gauss(0, 0.02), 6),
                    "lon": round(lon + rng.gauss(0, 0.02), 6),
                }
            )
    return out


def _load_pharmacies(client: httpx.Client, headers: dict[str, str]) -> list[str]:
    pharmacies = demo_pharmacies()
    answer = client.post(
        "/v1/admin/pharmacies/batches",
        json={"run": "demo", "pharmacies": pharmacies},
        headers=headers,
    )
    if answer.status_code != 200:
        raise DemoError(f"POST /v1/admin/pharmacies/batches answered {answer.status_code}")
    with_mailbox = pharmacies[5::5]
    for p in with_mailbox:
        address = f"officine-{p['finess'].lower()}@pharmacie-demo.mssante.fr"
        answer = client.put(
            f"/v1/admin/mailboxes/{address}",
            json={
                "type": "ORG",
                "display_name": p["name"],
                "finess": p["finess"],
                "pharmacy": True,
                "alert_email": f"alertes-{p['finess'].lower()}@pharmacie-demo.example",
            },
            headers=headers,
        )
        if answer.status_code not in (200, 201):
            raise DemoError(f"PUT /v1/admin/mailboxes/{address} answered {answer.status_code}")
    patient = DEMO_PATIENTS[DEMO_PHARMACY_PATIENT]
    today = date.today()
    history = [
        {"finess": pharmacies[0]["finess"], "date": str(today - timedelta(days=20))},
        {"finess": pharmacies[1]["finess"], "date": str(today - timedelta(days=60))},
        {"finess": pharmacies[10]["finess"], "date": str(today - timedelta(days=400))},
    ]
    answer = client.put(
        f"/v1/admin/patients/{patient.ins}/dispensations",
        json={"dispensations": history},
        headers=headers,
    )
    if answer.status_code != 200:
        raise DemoError(f"PUT dispensations answered {answer.status_code}: {answer.text}")
    return [
        f"Demo pharmacies: {len(pharmacies)} in {len(_DEMO_CITIES)} cities, "
        f"{len(with_mailbox) + 1} with an organisational mailbox; "
        f"{patient.first_names} {patient.birth_name} was dispensed at the Pharmacie du Marché "
        f"({pharmacies[0]['finess']}) 20 days ago (GET /v1/me/pharmacies?q=marche)"
    ]


def _dev_token(client: httpx.Client, role: str) -> str:
    response = client.post("/v1/dev/tokens", json={"role": role})
    if response.status_code not in (200, 201):
        raise DemoError(f"POST /v1/dev/tokens answered {response.status_code}: {response.text}")
    data = response.json()
    token = data.get("access_token") or data.get("token")
    if not isinstance(token, str):
        raise DemoError(f"POST /v1/dev/tokens gave no access_token: {data}")
    return token


def load_demo(gateway_url: str) -> list[str]:
    """Load the demo data; return the lines to show the developer."""
    lines = ["Demo patients:"]
    with httpx.Client(base_url=gateway_url, timeout=10.0, trust_env=False) as client:
        token = _dev_token(client, "ops")
        headers = {"Authorization": f"Bearer {token}"}
        for patient in DEMO_PATIENTS:
            response = client.put(
                f"/v1/admin/patients/{patient.ins}", json=patient.body(), headers=headers
            )
            if response.status_code not in (200, 201):
                raise DemoError(
                    f"PUT /v1/admin/patients/{patient.ins} answered "
                    f"{response.status_code}: {response.text}"
                )
            lines.append(
                f"  {patient.address:<40} {patient.state:<10} "
                f"{patient.first_names} {patient.birth_name}: {patient.note}"
            )
        lines.append(
            "Demo MSSanté mailboxes (get a token with "
            '{"role":"professional","mailboxes":["<address>"]}; role "application" for '
            "the APP mailbox):"
        )
        for address, kind, name, extra, note in DEMO_MAILBOXES:
            response = client.put(
                f"/v1/admin/mailboxes/{address}",
                json={"type": kind, "display_name": name, **extra},
                headers=headers,
            )
            if response.status_code not in (200, 201):
                raise DemoError(
                    f"PUT /v1/admin/mailboxes/{address} answered "
                    f"{response.status_code}: {response.text}"
                )
            lines.append(f"  {address:<46} {kind}  {name}: {note}")
        lines.extend(_load_pharmacies(client, headers))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the demo data through the gateway")
    parser.add_argument(
        "--gateway", required=True, help="gateway base URL, e.g. http://127.0.0.1:8000"
    )
    args = parser.parse_args(argv)
    try:
        lines = load_demo(args.gateway.rstrip("/"))
    except (DemoError, httpx.HTTPError) as exc:
        print(f"demo data not loaded: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
