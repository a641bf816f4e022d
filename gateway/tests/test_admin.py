"""Ops load patient profiles through the gateway into the real identity service, and check what
a message to each address would meet (DOMAIN.md: profile states and non-delivery)."""

from __future__ import annotations

import httpx
import pytest

from mes_contracts.ins import ins_key
from mes_gateway.main import create_app

from .conftest import gateway_settings


def make_ins(nir: str) -> str:
    return nir + ins_key(nir)


PATIENT = {
    "state": "created",
    "birth_name": "DUPONT",
    "first_names": "Marie Anne",
    "email": "marie.dupont@example.org",
}


@pytest.fixture
async def ops(stack, dev_token):
    return await dev_token(stack, role="ops")


async def test_put_patient_creates_then_updates(stack, ops):
    ins = make_ins("2790351215189")
    created = await stack.put(f"/v1/admin/patients/{ins}", json=PATIENT, headers=ops)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "ins": ins,
        "address": f"{ins}@patient.mssante.fr",
        "state": "created",
        "birth_name": "DUPONT",
        "first_names": "Marie Anne",
        "display_name": "Marie Dupont",
        "email": "marie.dupont@example.org",
        "app_installed": False,
    }
    again = await stack.put(f"/v1/admin/patients/{ins}", json=PATIENT, headers=ops)
    assert again.status_code == 200 and again.json() == created.json()

    activated = await stack.put(
        f"/v1/admin/patients/{ins}",
        headers=ops,
        json={**PATIENT, "state": "activated", "app_installed": True},
    )
    assert activated.status_code == 200
    fetched = await stack.get(f"/v1/admin/patients/{ins}", headers=ops)
    assert fetched.json()["state"] == "activated" and fetched.json()["app_installed"] is True


@pytest.mark.parametrize(
    ("ins", "reason"),
    [
        ("27903512151898", "wrong_length"),
        ("2790351215189A9", "bad_characters"),
        ("279035121518988", "wrong_key"),
    ],
)
async def test_malformed_ins_is_explained(stack, ops, ins, reason):
    response = await stack.put(f"/v1/admin/patients/{ins}", json=PATIENT, headers=ops)
    problem = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (problem["code"], problem["reason"]) == ("invalid_ins", reason)
    assert problem["detail"]  # readable, e.g. "INS key is 88, expected 89"


async def test_unknown_fields_and_bad_values_are_refused(stack, ops):
    ins = make_ins("1840575123456")
    for body in (
        {**PATIENT, "is_admin": True},
        {**PATIENT, "state": "deleted"},
        {**PATIENT, "email": "not-an-email"},
        {"state": "created"},
    ):
        response = await stack.put(f"/v1/admin/patients/{ins}", json=body, headers=ops)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"
    missing = await stack.get(f"/v1/admin/patients/{ins}", headers=ops)
    assert missing.status_code == 404 and missing.json()["code"] == "patient_not_found"


async def test_huge_body_is_refused_before_anything(stack, ops):
    ins = make_ins("1840575123456")
    body = {**PATIENT, "birth_name": "X" * (2 * 1024 * 1024)}
    response = await stack.put(f"/v1/admin/patients/{ins}", json=body, headers=ops)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_resolution_follows_the_profile_state(stack, ops):
    expected = {}
    for i, state in enumerate(("created", "activated", "opposed", "closed")):
        ins = make_ins(f"18405751234{i:02d}")
        put = await stack.put(
            f"/v1/admin/patients/{ins}", json={**PATIENT, "state": state}, headers=ops
        )
        assert put.status_code == 201, put.text
        expected[f"{ins}@patient.mssante.fr"] = {
            "created": "deliverable",
            "activated": "deliverable",
            "opposed": "not_found",
            "closed": "closed",
        }[state]
    expected[f"{make_ins('1840575999999')}@patient.mssante.fr"] = "not_found"  # no profile

    for address, status in expected.items():
        response = await stack.get(f"/v1/admin/addresses/{address}/resolution", headers=ops)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status, address

    bad_key = await stack.get(
        "/v1/admin/addresses/184057512340000@patient.mssante.fr/resolution", headers=ops
    )
    assert bad_key.status_code == 200
    assert bad_key.json()["status"] == "invalid"
    assert bad_key.json()["invalid_reason"] == "wrong_key"


async def test_patient_reads_own_profile(stack, ops, dev_token):
    ins = make_ins("2790351215189")
    await stack.put(f"/v1/admin/patients/{ins}", json=PATIENT, headers=ops)
    me = await stack.get("/v1/me", headers=await dev_token(stack, role="patient", ins=ins))
    assert me.status_code == 200 and me.json()["ins"] == ins

    stranger = await dev_token(stack, role="patient", ins=make_ins("1840575123456"))
    missing = await stack.get("/v1/me", headers=stranger)
    assert missing.status_code == 404 and missing.json()["code"] == "patient_not_found"


@pytest.mark.parametrize("reads_apart", [False, True])
async def test_a_profile_change_is_passed_on_to_the_conversation_processes_before_the_answer(
    identity_app, dev_token, reads_apart
):
    """So that a message sent right after the answer meets the new state (an opposed profile
    bounces), whatever the time identity's event takes."""
    told: list[tuple[str, str]] = []

    def conversation(name: str) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            told.append((name, request.url.path))
            return httpx.Response(204)

        return httpx.MockTransport(answer)

    overrides = {"conversation_reads_url": "http://127.0.0.1:9"} if reads_apart else {}
    transports = {
        "identity": httpx.ASGITransport(app=identity_app),
        "conversation": conversation("conversation"),
        "conversation_reads": conversation("conversation_reads"),
    }
    app = create_app(gateway_settings(**overrides), transports=transports)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        ops = await dev_token(client, role="ops")
        ins = make_ins("1840575123477")
        put = await client.put(
            f"/v1/admin/patients/{ins}", json={**PATIENT, "state": "opposed"}, headers=ops
        )
        assert put.status_code == 201, put.text
    path = f"/internal/patients/{ins}/profile-changed"
    expected = [("conversation", path)] + ([("conversation_reads", path)] if reads_apart else [])
    assert sorted(told) == expected


async def test_a_profile_change_is_answered_while_the_conversation_service_is_down(stack, ops):
    ins = make_ins("1840575123488")
    put = await stack.put(f"/v1/admin/patients/{ins}", json=PATIENT, headers=ops)
    assert put.status_code == 201, put.text


async def test_a_wrong_method_names_every_method_the_path_has(stack, ops):
    ins = make_ins("2790351215189")
    response = await stack.delete(f"/v1/admin/patients/{ins}", headers=ops)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, PUT"


async def test_a_cursor_too_long_is_an_invalid_cursor_on_every_list(stack, dev_token):
    patient = await dev_token(stack, role="patient", ins="279035121518989")
    doctor_mailbox = "dr.martin@hopital-exemple.mssante.fr"
    doctor = await dev_token(stack, role="professional", mailboxes=[doctor_mailbox])
    for url, headers in (
        ("/v1/me/conversations", patient),
        (f"/v1/mailboxes/{doctor_mailbox}/messages", doctor),
        (f"/v1/mailboxes/{doctor_mailbox}/conversations", doctor),
        ("/v1/me/conversations/c-1/messages", patient),
    ):
        response = await stack.get(url, params={"cursor": "A" * 513}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_cursor"), url
