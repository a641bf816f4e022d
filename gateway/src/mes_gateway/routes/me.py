"""The calling patient's own space."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import PatientPrincipal, ServicesDep
from ..openapi import problem_example, problem_responses
from ..schemas import PatientProfile

__all__ = ["TAGS", "router"]

TAGS = [{"name": "patient", "description": "The patient's own space (role `patient`)."}]

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=problem_responses(401, 403, 503))


@router.get(
    "",
    response_model=PatientProfile,
    summary="My profile",
    responses=problem_responses(
        404,
        examples={
            404: {
                "patient_not_found": problem_example(
                    404, "patient_not_found", "Not found", "No patient profile for this INS."
                )
            }
        },
    ),
)
async def my_profile(principal: PatientPrincipal, services: ServicesDep) -> PatientProfile:
    answer = await services.get("identity", f"/internal/patients/{principal.ins}")
    return PatientProfile.model_validate(answer.json())
