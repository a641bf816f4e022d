"""The patient's pharmacies: find one, the message template, and send it a prescription."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.internal.conversation import AdmissionOut, PatientStartIn
from mes_contracts.internal.documents import DocumentsAttachIn, DocumentsAttachOut
from mes_contracts.internal.pharmacies import (
    PharmacyPageOut,
    PharmacyRecipientOut,
    RateLimitIn,
    RateLimitOut,
    RateRule,
)
from mes_platform.errors import Forbidden, Unprocessable
from mes_platform.problems import problem_response

from ..calls import answer_of, refused_as_invalid
from ..deps import PatientPrincipal, PatientSending, ServicesDep, SettingsDep, idempotency_headers
from ..pharmacy_schemas import (
    PharmacyList,
    PharmacyMessageTemplate,
    PharmacyOut,
    PharmacyRequestIn,
    PharmacyRequestOut,
    SentAttachment,
)
from ..problem_docs import AUTHENTICATED, problems
from ..settings import GatewaySettings
from ._messaging_common import check_body, q, resolve_attachments
from .patient_messaging import my_address

__all__ = ["TAGS", "TEMPLATE", "router"]

TAGS = [
    {
        "name": "pharmacies",
        "description": "Find a pharmacy and send it a prescription or any document of your "
        "space, through its organisational MSSanté mailbox (profile activated).",
    }
]

TEMPLATE = PharmacyMessageTemplate(
    subject="Ordonnance",
    body=(
        "Bonjour,\n\n"
        "Vous trouverez ci-joint mon ordonnance. Pourriez-vous préparer les médicaments "
        "prescrits ? Je passerai les retirer à la pharmacie.\n\n"
        "Merci, bonne journée."
    ),
    reminder=(
        "N'oubliez pas d'apporter votre ordonnance papier à la pharmacie : elle vous sera "
        "demandée pour la délivrance de vos médicaments."
    ),
)

router = APIRouter(prefix="/v1/me", tags=["pharmacies"], responses=problems(*AUTHENTICATED))


@router.get(
    "/pharmacies",
    operation_id="searchPharmacies",
    response_model=PharmacyList,
    summary="Find a pharmacy",
    description="Open pharmacies of France (the FINESS register) by name, address or city "
    "words (each word matches the start of a word; accents and case do not matter), by "
    "postal code (or its first digits), or nearest first with `near=LAT,LON` (then each "
    "carries `distance_m`). `can_write` says whether you may send it a request.",
    responses=problems(*AUTHENTICATED, "invalid_query", "invalid_near", "invalid_cursor"),
)
async def search_pharmacies(
    principal: PatientPrincipal,
    services: ServicesDep,
    q: Annotated[str | None, Query(min_length=1, max_length=100, examples=["bastille"])] = None,
    postal_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,5}$", examples=["75011"])] = None,
    near: Annotated[str | None, Query(max_length=60, examples=["48.8532,2.3691"])] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> PharmacyList:
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("q", q), ("postal_code", postal_code), ("near", near), ("cursor", cursor)):
        if value is not None:
            params[name] = value
    answer = await services.get("directory", "/internal/pharmacies", params=params)
    page = PharmacyPageOut.model_validate_json(answer.content)
    return PharmacyList(
        items=[PharmacyOut.model_validate(p.model_dump()) for p in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/pharmacy-message-template",
    operation_id="getPharmacyMessageTemplate",
    response_model=PharmacyMessageTemplate,
    summary="The pre-filled message to a pharmacy",
    description="The text proposed when sending a prescription to a pharmacy (editable), and "
    "the reminder that the paper prescription must still be brought to the pharmacy.",
)
async def pharmacy_message_template(principal: PatientPrincipal) -> PharmacyMessageTemplate:
    return TEMPLATE


def rate_rules(settings: GatewaySettings, ins: str, finess: str) -> RateLimitIn:
    """Per patient and per pharmacy; the patient's INS is hashed (counters are not a record
    of who wrote to which pharmacy)."""
    window = settings.pharmacy_requests_window_seconds
    patient = hashlib.sha256(ins.encode()).hexdigest()[:32]
    return RateLimitIn(
        rules=(
            RateRule(
                key=f"pharmacy-requests:patient:{patient}",
                limit=settings.pharmacy_requests_per_patient,
                window_seconds=window,
            ),
            RateRule(
                key=f"pharmacy-requests:pharmacy:{finess}",
                limit=settings.pharmacy_requests_per_pharmacy,
                window_seconds=window,
            ),
        )
    )


@router.post(
    "/pharmacy-requests",
    operation_id="sendPharmacyRequest",
    status_code=201,
    response_model=PharmacyRequestOut,
    summary="Send a prescription (or any document) to a pharmacy",
    description="Opens a new conversation with the pharmacy's organisational MSSanté mailbox, "
    "with copies of the chosen documents of your space attached (byte for byte) and any "
    "other attachment you uploaded. The text is the template's unless you give `body`. "
    "The pharmacy is alerted on receipt. A pharmacy's `[FIN]` closes that conversation only: "
    "you may always send it a new request. `Idempotency-Key` is honoured. Bring the paper "
    "prescription to the pharmacy.",
    responses=problems(
        *AUTHENTICATED,
        "profile_not_activated",
        "initiation_not_allowed",
        "pharmacy_not_found",
        "document_not_found",
        "patient_not_found",
        "pharmacy_closed",
        "pharmacy_without_mailbox",
        "concurrent_update",
        "message_too_large",
        "nothing_attached",
        "invalid_finess",
        "invalid_ins",
        "invalid_address",
        "invalid_recipient",
        "invalid_body",
        "body_too_long",
        "empty_message",
        "attachment_unknown",
        "invalid_idempotency_key",
        "idempotency_key_reused",
        "pharmacy_requests_rate_limited",
    ),
)
async def send_pharmacy_request(
    request: Request, body: PharmacyRequestIn, sending: PatientSending, settings: SettingsDep
) -> Response:
    principal, services = sending.principal, sending.services
    assert principal.ins is not None  # guaranteed by the patient role
    if not body.document_ids and not body.attachment_ids:
        raise Unprocessable(
            "Attach at least one document (the prescription) or attachment.",
            code="nothing_attached",
        )
    text = check_body(body.body) if body.body is not None else TEMPLATE.body
    me = my_address(principal)

    profile = (await services.get("identity", f"/internal/patients/{principal.ins}")).json()
    if profile.get("state") != "activated":
        raise Forbidden(
            "Writing to a pharmacy requires an activated Mon espace santé profile.",
            code="profile_not_activated",
        )
    answer = await services.get("directory", f"/internal/pharmacies/{q(body.pharmacy)}/recipient")
    recipient = PharmacyRecipientOut.model_validate_json(answer.content)

    limited = await services.send(
        "directory",
        "POST",
        "/internal/rate-limits/consume",
        body=rate_rules(settings, principal.ins, recipient.finess),
    )
    decision = RateLimitOut.model_validate_json(limited.content)
    if not decision.allowed:
        wait = decision.retry_after_seconds
        return problem_response(
            429,
            "pharmacy_requests_rate_limited",
            "Too many requests to pharmacies",
            f"Too many requests to pharmacies; retry after {wait} seconds.",
            instance=request.url.path,
            headers={"Retry-After": str(wait)},
            retry_after_seconds=wait,
        )

    attachments: list[AttachmentRef] = []
    if body.document_ids:
        with refused_as_invalid():
            to_copy = DocumentsAttachIn(
                owner=me, document_ids=tuple(body.document_ids), idempotency_key=sending.key
            )
        copied = await services.send("mailbox", "POST", "/internal/documents/attach", body=to_copy)
        attachments.extend(answer_of(DocumentsAttachOut, "mailbox", copied).attachments)
    attachments.extend(await resolve_attachments(services, me, body.attachment_ids))

    with refused_as_invalid():
        message = PatientStartIn(
            to=recipient.mailbox, subject=TEMPLATE.subject, body=text, attachments=attachments
        )
    sent = await services.send(
        "conversation",
        "POST",
        f"/internal/patients/{principal.ins}/conversations",
        body=message,
        headers=idempotency_headers(sending.key),
    )
    outcome = answer_of(AdmissionOut, "conversation", sent)
    out = PharmacyRequestOut(
        message_id=outcome.message_id,
        conversation_id=outcome.conversation_id,
        status=outcome.status,
        pharmacy=recipient.finess,
        mailbox=recipient.mailbox,
        attachments=[SentAttachment.model_validate(a.model_dump()) for a in attachments],
    )
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")
