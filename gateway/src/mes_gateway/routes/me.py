"""The calling patient's own space."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import PatientPrincipal, ServicesDep
from ..problem_docs import AUTHENTICATED, problems
from ..schemas import PatientProfile

__all__ = ["TAGS", "router"]

TAGS = [{"name": "patient", "description": "The patient's own space (role `patient`)."}]

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=problems(*AUTHENTICATED))


@router.get(
    "",
    response_model=PatientProfile,
    operation_id="getMyProfile",
    summary="My profile",
    description="The profile of the patient the token names (claim `ins`): state, names, "
    "contact e-mail, whether the mobile app is installed.",
    responses=problems(*AUTHENTICATED, "patient_not_found", "invalid_ins"),
)
async def my_profile(principal: PatientPrincipal, services: ServicesDep) -> PatientProfile:
    answer = await services.get("identity", f"/internal/patients/{principal.ins}")
    return PatientProfile.model_validate(answer.json())
