"""The identity service as its callers see it: profiles, their events, address resolution."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mes_contracts import EventEnvelope
from mes_contracts.events.identity import (
    PatientActivated,
    PatientClosed,
    PatientCreated,
    PatientOpposed,
    PatientUpdated,
)

Events = Callable[[], Awaitable[list[EventEnvelope]]]
Ins = Callable[[int], str]


async def test_a_new_profile_is_created_and_announced(
    identity: Any, events: Events, ins: Ins
) -> None:
    response = await identity.put(1, email="marie@example.org")
    assert response.status_code == 201, response.text
    assert response.json() == {
        "ins": ins(1),
        "address": f"{ins(1)}@patient.mssante.fr",
        "state": "created",
        "birth_name": "DUPONT",
        "first_names": "Marie Louise",
        "display_name": "Marie Dupont",
        "email": "marie@example.org",
        "app_installed": False,
    }
    (event,) = await events()
    assert event.type == PatientCreated.SUBJECT
    assert event.producer == "identity"
    created = event.payload_as(PatientCreated)
    assert (created.ins, created.state, created.previous_state) == (ins(1), "created", None)
    assert created.email == "marie@example.org"


async def test_the_same_put_again_changes_nothing_and_says_nothing(
    identity: Any, events: Events, ins: Ins
) -> None:
    assert (await identity.put(1)).status_code == 201
    again = await identity.put(1)
    assert again.status_code == 200
    assert again.json()["state"] == "created"
    assert [e.type for e in await events()] == [PatientCreated.SUBJECT]


async def test_state_changes_are_announced_with_the_previous_state(
    identity: Any, events: Events, ins: Ins
) -> None:
    await identity.put(1)
    for state in ("activated", "opposed", "closed"):
        response = await identity.put(1, state)
        assert response.status_code == 200
        assert response.json()["state"] == state
    await identity.put(1, "closed", email="new@example.org")  # not a state change
    published = await events()
    assert [(e.type, e.payload["previous_state"], e.payload["state"]) for e in published] == [
        (PatientCreated.SUBJECT, None, "created"),
        (PatientActivated.SUBJECT, "created", "activated"),
        (PatientOpposed.SUBJECT, "activated", "opposed"),
        (PatientClosed.SUBJECT, "opposed", "closed"),
        (PatientUpdated.SUBJECT, "closed", "closed"),
    ]
    assert len({e.id for e in published}) == len(published)


async def test_events_carry_the_request_id(identity: Any, events: Events, ins: Ins) -> None:
    await identity.http.put(
        f"/internal/patients/{ins(1)}",
        headers={"X-Request-ID": "req-ops-7"},
        json={"state": "created", "birth_name": "X", "first_names": "Y"},
    )
    (event,) = await events()
    assert event.correlation_id == "req-ops-7"


async def test_app_installed_is_kept_when_not_given(identity: Any) -> None:
    await identity.put(1, "activated", app_installed=True)
    response = await identity.put(1, "activated", display_name="Marie D.")
    assert response.json()["app_installed"] is True
    assert response.json()["display_name"] == "Marie D."


async def test_a_profile_can_be_read_back(identity: Any, ins: Ins) -> None:
    await identity.put(1, "activated", email="m@example.org")
    response = await identity.http.get(f"/internal/patients/{ins(1)}")
    assert response.status_code == 200
    assert response.json()["state"] == "activated"
    missing = await identity.http.get(f"/internal/patients/{ins(2)}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "patient_not_found"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("created", "deliverable"),
        ("activated", "deliverable"),
        ("opposed", "not_found"),
        ("closed", "closed"),
    ],
)
async def test_resolution_follows_the_profile_state(
    identity: Any, ins: Ins, state: str, status: str
) -> None:
    await identity.put(1, state, app_installed=True)
    resolution = await identity.resolve(f"{ins(1)}@patient.mssante.fr")
    assert resolution["status"] == status
    assert resolution["ins"] == ins(1)
    if status == "deliverable":
        assert resolution["display_name"] == "Marie Dupont"
        assert resolution["state"] == state
        assert resolution["app_installed"] is True
    else:
        # Nothing about an opposed or closed profile leaks to the sender.
        assert resolution["display_name"] is None
        assert resolution["app_installed"] is False


async def test_an_unknown_valid_ins_does_not_exist(identity: Any, ins: Ins) -> None:
    resolution = await identity.resolve(f"{ins(42)}@patient.mssante.fr")
    assert resolution["status"] == "not_found"
    assert resolution["ins"] == ins(42)


@pytest.mark.parametrize(
    ("local_part", "reason"),
    [
        ("279035121518988", "wrong_key"),
        ("27903512151898", "wrong_length"),
        ("2790351215189890", "wrong_length"),
        ("27903512151898X", "bad_characters"),
        ("27903512151A989", "bad_characters"),
        ("2790351215189 9", "malformed"),
    ],
)
async def test_an_invalid_ins_is_invalid_with_its_reason(
    identity: Any, local_part: str, reason: str
) -> None:
    resolution = await identity.resolve(f"{local_part}@patient.mssante.fr")
    assert resolution["status"] == "invalid"
    assert resolution["invalid_reason"] == reason
    assert resolution["ins"] is None
    assert resolution["detail"]


async def test_a_valid_ins_of_the_example_resolves(identity: Any) -> None:
    # The example of DOMAIN.md, with no profile.
    assert (await identity.resolve("279035121518989@patient.mssante.fr"))["status"] == "not_found"


async def test_a_non_patient_address_is_invalid(identity: Any, ins: Ins) -> None:
    resolution = await identity.resolve(f"{ins(1)}@hopital.mssante.fr")
    assert resolution["status"] == "invalid"
    assert resolution["invalid_reason"]


@pytest.mark.parametrize(
    ("path_ins", "reason"),
    [
        ("279035121518988", "wrong_key"),
        ("2790351215189", "wrong_length"),
        ("27903512151898A", "bad_characters"),
    ],
)
async def test_a_malformed_ins_in_the_path_is_refused(
    identity: Any, body: Callable[..., dict[str, Any]], path_ins: str, reason: str
) -> None:
    for response in (
        await identity.http.put(f"/internal/patients/{path_ins}", json=body()),
        await identity.http.get(f"/internal/patients/{path_ins}"),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "invalid_ins"
        assert problem["reason"] == reason


@pytest.mark.parametrize(
    "bad_body",
    [
        {"state": "unknown", "birth_name": "X", "first_names": "Y"},
        {"state": "created", "birth_name": "", "first_names": "Y"},
        {"state": "created", "birth_name": "X", "first_names": "Y", "email": "not-an-email"},
        {"state": "created", "birth_name": "X", "first_names": "Y", "surprise": 1},
    ],
)
async def test_a_malformed_body_is_a_validation_problem(
    identity: Any, events: Events, ins: Ins, bad_body: dict[str, Any]
) -> None:
    response = await identity.http.put(f"/internal/patients/{ins(1)}", json=bad_body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert await events() == []


async def test_resolution_sees_this_process_writes_at_once(identity: Any, ins: Ins) -> None:
    address = f"{ins(1)}@patient.mssante.fr"
    assert (await identity.resolve(address))["status"] == "not_found"  # cached: no profile
    await identity.put(1, "activated")
    assert (await identity.resolve(address))["status"] == "deliverable"
    await identity.put(1, "closed")
    assert (await identity.resolve(address))["status"] == "closed"
    await identity.put(1, "opposed")
    assert (await identity.resolve(address))["status"] == "not_found"


async def test_internal_endpoints_require_the_internal_token(identity: Any, ins: Ins) -> None:
    for headers in ({"X-Internal-Token": ""}, {"X-Internal-Token": "wrong"}):
        response = await identity.http.get(
            f"/internal/resolutions/{ins(1)}@patient.mssante.fr", headers=headers
        )
        assert response.status_code == 401
        assert response.json()["code"] == "internal_credential_required"
    del identity.http.headers["X-Internal-Token"]
    response = await identity.http.put(
        f"/internal/patients/{ins(1)}",
        json={"state": "created", "birth_name": "X", "first_names": "Y"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "internal_credential_required"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birth_name", "EVIL\r\nBcc: x@y.fr"),
        ("birth_name", "DU\nPONT"),
        ("first_names", "A\u0000B"),
        ("first_names", "Marie\tLouise"),
        ("first_names", "Marie\u0085Louise"),  # NEL, a C1 control
        ("display_name", "Dr\u202eevil"),  # right-to-left override
        ("display_name", "Marie \u2067Dupont\u2069"),  # right-to-left isolate
        ("display_name", "Marie\u2028Dupont"),  # line separator
        ("display_name", "Marie\u2029Dupont"),  # paragraph separator
    ],
)
async def test_names_with_control_characters_are_refused(
    identity: Any, events: Events, ins: Ins, field: str, value: str
) -> None:
    response = await identity.put(1, "activated", **{field: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["field"], problem["reason"]) == (
        "invalid_name",
        field,
        "control_characters",
    )
    assert (await identity.http.get(f"/internal/patients/{ins(1)}")).status_code == 404
    assert await events() == []


async def test_names_are_stored_trimmed(identity: Any, events: Events) -> None:
    response = await identity.put(
        1, birth_name="  DUPONT\n", first_names="\tMarie Louise  ", display_name=" Marie D. "
    )
    assert response.status_code == 201, response.text
    names = {k: response.json()[k] for k in ("birth_name", "first_names", "display_name")}
    assert names == {
        "birth_name": "DUPONT",
        "first_names": "Marie Louise",
        "display_name": "Marie D.",
    }
    (event,) = await events()
    assert (event.payload["birth_name"], event.payload["display_name"]) == ("DUPONT", "Marie D.")
    # The same names with other blanks around them are the same profile: nothing changes.
    again = await identity.put(
        1, birth_name="DUPONT", first_names="Marie Louise", display_name="Marie D."
    )
    assert again.status_code == 200
    assert len(await events()) == 1
