"""Operations on pharmacies (role ``ops``): the FINESS import and patients' dispensations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mes_contracts.internal import pharmacies

from ..calls import refused_as_invalid
from ..deps import OpsPrincipal, ServicesDep
from ..pharmacy_schemas import (
    CloseAbsentOut,
    DispensationsIn,
    DispensationsOut,
    PharmacyBatchIn,
    PharmacyBatchOut,
)
from ..problem_docs import AUTHENTICATED, problems
from ._messaging_common import q

__all__ = ["TAGS", "router"]

TAGS = [
    {
        "name": "pharmacy-admin",
        "description": "The pharmacies of the FINESS register and patients' dispensing "
        "history, loaded by operations (role `ops`; `mes-admin import-finess`, "
        "`mes-admin import-dispensations`).",
    }
]

router = APIRouter(prefix="/v1/admin", tags=["pharmacy-admin"], responses=problems(*AUTHENTICATED))

Run = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Ins = Annotated[str, Path(max_length=20, examples=["279035121518989"])]


@router.post(
    "/pharmacies/batches",
    operation_id="importPharmacies",
    response_model=PharmacyBatchOut,
    summary="Create or update pharmacies (one batch of an import run)",
    description="Up to 1,000 pharmacies of the FINESS register; a FINESS number with a "
    "wrong check digit is reported in `rejected`, never stored. Replaying a batch changes "
    "nothing.",
    responses=problems(*AUTHENTICATED),
)
async def import_pharmacies(
    body: PharmacyBatchIn, principal: OpsPrincipal, services: ServicesDep
) -> PharmacyBatchOut:
    with refused_as_invalid():
        batch = pharmacies.PharmacyBatchIn.model_validate(body.model_dump())
    answer = await services.send("directory", "POST", "/internal/pharmacies/batches", body=batch)
    return PharmacyBatchOut.model_validate_json(answer.content)


@router.post(
    "/pharmacies/imports/{run}/close-absent",
    operation_id="closeAbsentPharmacies",
    response_model=CloseAbsentOut,
    summary="Close the pharmacies an import run did not list",
    description="Called once a run has read its whole extract: pharmacies absent from it are "
    "marked closed (never deleted); a later extract that lists one opens it again.",
    responses=problems(*AUTHENTICATED),
)
async def close_absent(run: Run, principal: OpsPrincipal, services: ServicesDep) -> CloseAbsentOut:
    answer = await services.send(
        "directory", "POST", f"/internal/pharmacies/imports/{q(run)}/close-absent"
    )
    return CloseAbsentOut.model_validate_json(answer.content)


@router.put(
    "/patients/{ins}/dispensations",
    operation_id="replacePatientDispensations",
    response_model=DispensationsOut,
    summary="A patient's dispensing history",
    description="Replaces the patient's history: where (FINESS) and when medicines were "
    "dispensed. The pharmacies of the last 12 months that have an organisational mailbox "
    "are the patient's default pharmacies.",
    responses=problems(*AUTHENTICATED, "invalid_dispensation", "invalid_finess", "invalid_ins"),
)
async def put_dispensations(
    ins: Ins, body: DispensationsIn, principal: OpsPrincipal, services: ServicesDep
) -> DispensationsOut:
    with refused_as_invalid():
        history = pharmacies.DispensationsIn.model_validate(body.model_dump())
    answer = await services.send(
        "directory",
        "PUT",
        f"/internal/patients/{q(ins)}/dispensations",
        body=history,
    )
    return DispensationsOut.model_validate_json(answer.content)
