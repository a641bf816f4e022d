"""``POST /v1/dev/tokens``: mint a token for any role. Development and test only: in
production this router is not registered at all, so the path answers 404."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from mes_contracts.ins import InsError, validate_ins
from mes_platform.errors import Unprocessable

from ..auth import issue_dev_token
from ..deps import SettingsDep
from ..principal import MAILBOX_ROLES, ClaimsError, Role, normalise_mailboxes
from ..problem_docs import problem_example, problems

__all__ = ["DEVELOPMENT_ONLY", "TAGS", "router"]

DEVELOPMENT_ONLY = True
TAGS = [
    {"name": "development", "description": "Development and test only: absent (404) in production."}
]

router = APIRouter(prefix="/v1/dev", tags=["development"])


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    ins: str | None = Field(default=None, max_length=64, description="patient: the matricule INS")
    mailboxes: list[str] | None = Field(
        default=None,
        max_length=50,
        description="professional/application: the MSSanté mailboxes the holder may use",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, description="Display name")
    ttl_seconds: int | None = Field(
        default=None, ge=60, le=86_400, description="Defaults to the gateway's token_ttl_seconds"
    )


class DevToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds")


_EXAMPLES: dict[str, Any] = {
    "patient": {
        "summary": "A patient",
        "value": {"role": "patient", "ins": "279035121518989", "name": "Marie Dupont"},
    },
    "professional": {
        "summary": "A professional",
        "value": {
            "role": "professional",
            "mailboxes": ["claire.martin@hopital-exemple.mssante.fr"],
            "name": "Dr Claire Martin",
        },
    },
    "ops": {"summary": "Operations", "value": {"role": "ops"}},
}


def _claims(body: DevTokenRequest) -> tuple[str, str | None, frozenset[str]]:
    """(subject, ins, mailboxes) of the requested token, or a 422 saying what is wrong."""
    if body.role is not Role.PATIENT and body.ins is not None:
        raise Unprocessable("Only a patient token carries an INS.", code="claim_not_allowed")
    if body.role not in MAILBOX_ROLES and body.mailboxes:
        raise Unprocessable(
            "Only professional and application tokens carry mailboxes.", code="claim_not_allowed"
        )
    if body.role is Role.PATIENT:
        if body.ins is None:
            raise Unprocessable("A patient token needs an INS.", code="ins_required")
        try:
            ins = validate_ins(body.ins)
        except InsError as exc:
            raise Unprocessable(exc.detail, code="invalid_ins", reason=exc.reason.value) from exc
        return ins, ins, frozenset()
    if body.role in MAILBOX_ROLES:
        try:
            mailboxes = normalise_mailboxes(body.mailboxes or [])
        except ClaimsError as exc:
            raise Unprocessable(str(exc), code="invalid_mailboxes") from exc
        return min(mailboxes), None, mailboxes
    return "dev-ops", None, frozenset()


@router.post(
    "/tokens",
    response_model=DevToken,
    operation_id="issueDevToken",
    summary="Mint a development token",
    responses=problems(
        "invalid_ins",
        "invalid_mailboxes",
        "claim_not_allowed",
        "ins_required",
        examples={
            "invalid_ins": problem_example(
                422,
                "invalid_ins",
                "Unprocessable request",
                "INS key is 88, expected 89",
                reason="wrong_key",
            )
        },
    ),
)
async def issue_token(
    body: Annotated[DevTokenRequest, Body(openapi_examples=_EXAMPLES)],
    settings: SettingsDep,
) -> DevToken:
    """Signs a token with the local development key. Use it in Swagger UI's *Authorize*."""
    subject, ins, mailboxes = _claims(body)
    ttl = body.ttl_seconds or settings.token_ttl_seconds
    token = issue_dev_token(
        settings,
        role=body.role,
        subject=subject,
        ttl_seconds=ttl,
        ins=ins,
        mailboxes=mailboxes,
        name=body.name,
    )
    return DevToken(access_token=token, expires_in=ttl)
