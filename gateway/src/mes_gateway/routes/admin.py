"""Operations on patient profiles (role ``ops``), forwarded to the identity service."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response

from mes_contracts.ins import InsError, validate_ins
from mes_contracts.internal.identity import PatientProfileIn
from mes_platform.clients import path_segment
from mes_platform.errors import Unprocessable

from ..calls import refused_as_invalid
from ..deps import OpsPrincipal, ServicesDep
from ..errors import ServiceUnavailable, UpstreamProblem
from ..problem_docs import AUTHENTICATED, problem_example, problems
from ..schemas import AddressResolution, PatientProfile, PatientUpsert
from ..services import ServiceClients

__all__ = ["TAGS", "router"]

TAGS = [{"name": "admin", "description": "Patient profiles, for operations (role `ops`)."}]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=problems(*AUTHENTICATED))

_INVALID_INS = {
    "wrong_length": problem_example(
        422,
        "invalid_ins",
        "Unprocessable request",
        "INS must be 15 characters, got 14",
        reason="wrong_length",
    ),
    "bad_characters": problem_example(
        422,
        "invalid_ins",
        "Unprocessable request",
        "INS must be digits only, except 2A or 2B at positions 6-7",
        reason="bad_characters",
    ),
    "wrong_key": problem_example(
        422,
        "invalid_ins",
        "Unprocessable request",
        "INS key is 88, expected 89",
        reason="wrong_key",
    ),
}

_UPSERT_EXAMPLES: dict[str, Any] = {
    "created": {
        "summary": "A profile created, not activated",
        "value": {
            "state": "created",
            "birth_name": "DUPONT",
            "first_names": "Marie Anne",
            "email": "marie.dupont@example.org",
        },
    },
    "activated": {
        "summary": "Activated, with the mobile app",
        "value": {
            "state": "activated",
            "birth_name": "DUPONT",
            "first_names": "Marie Anne",
            "display_name": "Marie Dupont",
            "email": "marie.dupont@example.org",
            "app_installed": True,
        },
    },
}


async def valid_ins(
    ins: Annotated[
        str,
        Path(
            max_length=64, description="Matricule INS (15 characters)", examples=["279035121518989"]
        ),
    ],
) -> str:
    """The INS is checked here first, so a typo is explained without a round trip."""
    try:
        return validate_ins(ins)
    except InsError as exc:
        raise Unprocessable(exc.detail, code="invalid_ins", reason=exc.reason.value) from exc


ValidIns = Annotated[str, Depends(valid_ins)]


@router.put(
    "/patients/{ins}",
    response_model=PatientProfile,
    operation_id="putPatientProfile",
    summary="Create or update a patient profile",
    responses={
        201: {"description": "Profile created", "model": PatientProfile},
        200: {"description": "Profile updated (or unchanged)"},
        **problems(*AUTHENTICATED, "invalid_name", "name_too_long", examples=_INVALID_INS),
    },
)
async def put_patient(
    principal: OpsPrincipal,
    ins: ValidIns,
    body: Annotated[PatientUpsert, Body(openapi_examples=_UPSERT_EXAMPLES)],
    services: ServicesDep,
    response: Response,
) -> PatientProfile:
    """Idempotent: the same PUT again answers 200 and changes nothing. The state decides
    delivery: created/activated deliverable, opposed "n'existe pas", closed "clôturée"."""
    with refused_as_invalid():
        profile = PatientProfileIn(
            state=body.state,
            birth_name=body.birth_name,
            first_names=body.first_names,
            display_name=body.display_name,
            email=body.email,
            app_installed=body.app_installed,
        )
    answer = await services.send("identity", "PUT", f"/internal/patients/{ins}", body=profile)
    await _profile_changed(services, ins)
    response.status_code = 201 if answer.status_code == 201 else 200
    return PatientProfile.model_validate_json(answer.content)


async def _profile_changed(services: ServiceClients, ins: str) -> None:
    """Tell the conversation service's processes, before answering, that the profile may have
    changed: a message sent right after this answer is judged on the new state (an opposed or
    closed profile bounces), not on an answer kept until identity's event arrives. If one
    cannot be told, the event still reaches it a moment later."""
    path = f"/internal/patients/{path_segment(ins)}/profile-changed"

    async def tell(service: str) -> None:
        try:
            await services.send(service, "POST", path)
        except (ServiceUnavailable, UpstreamProblem) as exc:
            log.warning(
                "could not pass on a profile change",
                extra={"upstream": service, "error": repr(exc)},
            )

    await asyncio.gather(*(tell(process) for process in services.processes_of("conversation")))


@router.get(
    "/patients/{ins}",
    response_model=PatientProfile,
    operation_id="getPatientProfile",
    summary="A patient profile",
    description="The profile as the identity service holds it; an INS with a wrong length, "
    "characters or key is refused before any look-up (422 `invalid_ins`).",
    responses=problems(*AUTHENTICATED, "patient_not_found", examples=_INVALID_INS),
)
async def get_patient(
    principal: OpsPrincipal, ins: ValidIns, services: ServicesDep
) -> PatientProfile:
    answer = await services.get("identity", f"/internal/patients/{ins}")
    return PatientProfile.model_validate_json(answer.content)


@router.get(
    "/addresses/{address}/resolution",
    response_model=AddressResolution,
    operation_id="resolveAddress",
    summary="Would a message to this address be delivered?",
    responses=problems(*AUTHENTICATED, "invalid_address"),
)
async def resolve_address(
    principal: OpsPrincipal,
    address: Annotated[str, Path(max_length=320, examples=["279035121518989@patient.mssante.fr"])],
    services: ServicesDep,
) -> AddressResolution:
    """An invalid address is an answer (`status: invalid`), not an error."""
    if set(address) <= {"."}:  # a dot segment would be resolved away by the URL, not sent
        raise Unprocessable("This is not an address.", code="invalid_address")
    answer = await services.get("identity", f"/internal/resolutions/{path_segment(address)}")
    return AddressResolution.model_validate_json(answer.content)
