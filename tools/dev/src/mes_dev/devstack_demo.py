"""Demo data for the development stack, loaded through the gateway's public API.

Run by ``mes-dev`` once the gateway is healthy: ``python -m mes_dev.devstack_demo --gateway
URL``. Every call is a PUT of a fixed value, so running it again (each ``make run``) changes
nothing. It prints one line per thing loaded; mes-dev shows them in its banner.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from mes_contracts.addresses import PatientAddress
from mes_contracts.ins import ins_key

__all__ = ["DEMO_PATIENTS", "DemoPatient", "load_demo", "main"]


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
        {"finess": "750012345", "pharmacy": True},
        "a pharmacy: patients may write to it",
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
