"""Internal API of the identity service (called by the gateway and the other services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from mes_contracts.addresses import PatientAddress
from mes_contracts.ins import InsError, validate_ins
from mes_contracts.internal.identity import (
    AddressResolutionOut,
    PatientProfileIn,
    PatientProfileOut,
)
from mes_platform.errors import NotFound, Unprocessable

from ..domain.model import PatientProfile, ProfileChange
from ..service.profiles import ProfileService, UpsertProfile

__all__ = ["router"]

router = APIRouter(prefix="/internal", tags=["internal"])


async def _service(request: Request) -> ProfileService:
    service: ProfileService = request.app.state.profiles
    return service


ProfileServiceDep = Annotated[ProfileService, Depends(_service)]


def _valid_ins(ins: str) -> str:
    try:
        return validate_ins(ins)
    except InsError as exc:
        raise Unprocessable(exc.detail, code="invalid_ins", reason=exc.reason.value) from exc


def _out(p: PatientProfile) -> PatientProfileOut:
    return PatientProfileOut(
        ins=p.ins,
        address=PatientAddress(p.ins).format(),
        state=p.state,
        birth_name=p.birth_name,
        first_names=p.first_names,
        display_name=p.display_name,
        email=p.email,
        app_installed=p.app_installed,
    )


@router.put("/patients/{ins}", response_model=PatientProfileOut)
async def put_patient(
    ins: Annotated[str, Path(max_length=64)],
    body: PatientProfileIn,
    service: ProfileServiceDep,
    response: Response,
) -> PatientProfileOut:
    profile, change = await service.upsert(
        UpsertProfile(
            ins=_valid_ins(ins),
            state=body.state,
            birth_name=body.birth_name,
            first_names=body.first_names,
            display_name=body.display_name,
            email=str(body.email) if body.email else None,
            app_installed=body.app_installed,
        )
    )
    response.status_code = 201 if change is ProfileChange.CREATED else 200
    return _out(profile)


@router.get("/patients/{ins}", response_model=PatientProfileOut)
async def get_patient(
    ins: Annotated[str, Path(max_length=64)], service: ProfileServiceDep
) -> PatientProfileOut:
    profile = await service.get(_valid_ins(ins))
    if profile is None:
        raise NotFound("No patient profile for this INS.", code="patient_not_found")
    return _out(profile)


@router.get("/resolutions/{address}", response_model=AddressResolutionOut)
async def resolve(
    address: Annotated[str, Path(max_length=320)], service: ProfileServiceDep
) -> AddressResolutionOut:
    """Whether a message to ``address`` can be delivered, and if not, why."""
    r = await service.resolve(address)
    return AddressResolutionOut(
        address=r.address,
        status=r.status.value,
        ins=r.ins,
        invalid_reason=str(r.invalid_reason) if r.invalid_reason else None,
        detail=r.detail,
        display_name=r.display_name,
        state=r.state,
        app_installed=r.app_installed,
    )
