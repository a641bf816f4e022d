"""Internal API of the conversation service (called by the gateway)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from mes_contracts.addresses import PatientAddress
from mes_contracts.ins import InsError, validate_ins
from mes_contracts.internal.conversation import (
    AdmissionOut,
    ContactOut,
    ContactsOut,
    ConversationPageOut,
    ConversationView,
    HealthActorMessageIn,
    MailboxConversationPageOut,
    PatientReplyIn,
    PatientStartIn,
)
from mes_platform.errors import Unprocessable
from mes_platform.paging import Cursor

from ..domain.model import ConversationState
from ..domain.outcomes import Outcome
from ..service.common import Idempotency, fingerprint_of
from ..service.health_actors import HealthActorMessage, HealthActorMessages
from ..service.patients import PatientMessages, PatientReply, PatientStart
from ..service.ports import PatientResolver
from ..service.queries import ConversationPage, ConversationQueries
from .schemas import admission_of, mailbox_view_of, patient_view_of

__all__ = ["router"]

router = APIRouter(prefix="/internal", tags=["internal"])


async def _queries(request: Request) -> ConversationQueries:
    service: ConversationQueries = request.app.state.conversation_queries
    return service


async def _valid_ins(ins: Annotated[str, Path(max_length=64)]) -> str:
    try:
        return validate_ins(ins)
    except InsError as exc:
        raise Unprocessable(exc.detail, code="invalid_ins", reason=exc.reason.value) from exc


QueriesDep = Annotated[ConversationQueries, Depends(_queries)]
InsDep = Annotated[str, Depends(_valid_ins)]
ConversationId = Annotated[str, Path(max_length=64)]
StateFilter = Annotated[Literal["open", "closed"] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=100)]

_Route = TypeVar("_Route", bound=Callable[..., Awaitable[Any]])
_ADMISSION = {"model": AdmissionOut, "description": "Admitted (or bounced, for a health actor)."}


# The admissions, on every message's path, read the Idempotency-Key header and their service
# themselves rather than through FastAPI's parameters and dependencies: measured in process,
# those cost a tenth of the request. The header is documented as a declared one would be.
_KEY_HEADER = "Idempotency-Key"
_KEY_MAX = 200
_ADMISSION_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": _KEY_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": _KEY_MAX},
        }
    ]
}


def _idempotency(request: Request, kind: str, command: object) -> Idempotency | None:
    key = request.headers.get(_KEY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= _KEY_MAX:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long" if key else "string_too_short",
                    "loc": ("header", _KEY_HEADER),
                    "msg": f"The key is 1 to {_KEY_MAX} characters.",
                    "input": key[:_KEY_MAX],
                }
            ]
        )
    return Idempotency(key, fingerprint_of(kind, command))


def _admission(path: str, status: int) -> Callable[[_Route], _Route]:
    """An admission's route: its answer, and the Idempotency-Key header it reads itself."""
    return router.post(
        path,
        status_code=status,
        response_model=AdmissionOut,
        responses={status: _ADMISSION},
        openapi_extra=_ADMISSION_OPENAPI,
    )


def _state(request: Request, name: str) -> Any:
    return getattr(request.app.state, name)


def _answer(outcome: Outcome, status: int) -> Response:
    """Every outcome of one admission answers the same status: a bounce is an answer too (the
    sender gets its report), and a replay answers as the first request was answered."""
    return Response(
        admission_of(outcome).model_dump_json(), status_code=status, media_type="application/json"
    )


def _page(page: ConversationPage, *, patient_may_write: bool = True) -> ConversationPageOut:
    return ConversationPageOut(
        items=[patient_view_of(c, patient_may_write=patient_may_write) for c in page.items],
        next_cursor=page.next_cursor,
    )


@_admission("/messages", 202)
async def send_from_health_actor(body: HealthActorMessageIn, request: Request) -> Response:
    """A health actor's message to a patient: accepted into a conversation, or bounced with
    its non-delivery report (both 202)."""
    command = HealthActorMessage(
        sender=body.from_,
        recipient=body.to,
        subject=body.subject,
        body=body.body,
        attachments=tuple(body.attachments),
        read_receipt=body.read_receipt,
        in_reply_to=body.in_reply_to,
        fin=body.fin,
        sent_by=body.sent_by,
    )
    service: HealthActorMessages = _state(request, "health_actor_messages")
    return _answer(await service.send(command, _idempotency(request, "send", command)), 202)


@_admission("/patients/{ins}/conversations/{conversation_id}/messages", 202)
async def reply_from_patient(
    ins: InsDep, conversation_id: ConversationId, body: PatientReplyIn, request: Request
) -> Response:
    """The patient replies in an open conversation of theirs."""
    command = PatientReply(
        ins=ins,
        conversation_id=conversation_id,
        body=body.body,
        attachments=tuple(body.attachments),
        subject=body.subject,
    )
    service: PatientMessages = _state(request, "patient_messages")
    return _answer(await service.reply(command, _idempotency(request, "reply", command)), 202)


@_admission("/patients/{ins}/conversations", 201)
async def start_by_patient(ins: InsDep, body: PatientStartIn, request: Request) -> Response:
    """The patient starts a conversation: with a pharmacy, or a health actor who wrote."""
    command = PatientStart(
        ins=ins,
        recipient=body.to,
        subject=body.subject,
        body=body.body,
        attachments=tuple(body.attachments),
    )
    service: PatientMessages = _state(request, "patient_messages")
    return _answer(await service.start(command, _idempotency(request, "start", command)), 201)


@router.post("/patients/{ins}/profile-changed", status_code=204)
async def patient_profile_changed(ins: InsDep, request: Request) -> Response:
    """Identity has just changed this patient's profile (the gateway that made the change says
    so before answering): the next message to the patient asks identity again, rather than
    trust an answer kept until the change's event arrives."""
    resolver: PatientResolver = _state(request, "patient_resolver")
    resolver.forget(PatientAddress.for_ins(ins).format())
    return Response(status_code=204)


@router.get("/patients/{ins}/conversations", response_model=ConversationPageOut)
async def patient_conversations(
    ins: InsDep,
    queries: QueriesDep,
    state: StateFilter = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> ConversationPageOut:
    page = await queries.of_patient(ins, ConversationState(state) if state else None, cursor, limit)
    may_write = await queries.patient_may_write(ins) if page.items else True
    return _page(page, patient_may_write=may_write)


@router.get("/patients/{ins}/conversations/{conversation_id}", response_model=ConversationView)
async def patient_conversation(
    ins: InsDep, conversation_id: ConversationId, queries: QueriesDep
) -> ConversationView:
    found = await queries.of_patient_by_id(ins, conversation_id)
    return patient_view_of(found, patient_may_write=await queries.patient_may_write(ins))


@router.get("/patients/{ins}/contacts", response_model=ContactsOut)
async def patient_contacts(ins: InsDep, queries: QueriesDep) -> ContactsOut:
    """Health actors who wrote to the patient and whose latest exchange is still open."""
    return ContactsOut(
        items=[
            ContactOut(
                address=c.correspondent.address,
                kind=c.correspondent.kind,
                display_name=c.correspondent.display_name,
                conversation_id=c.id,
            )
            for c in await queries.contacts(ins)
        ]
    )


@router.get("/mailboxes/{address}/conversations", response_model=MailboxConversationPageOut)
async def mailbox_conversations(
    address: Annotated[str, Path(max_length=320)],
    queries: QueriesDep,
    state: StateFilter = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> MailboxConversationPageOut:
    """The mailbox's conversations; each one's correspondent is the patient."""
    page = await queries.of_mailbox(
        address, ConversationState(state) if state else None, cursor, limit
    )
    return MailboxConversationPageOut(
        items=[mailbox_view_of(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/conversations/{conversation_id}", response_model=ConversationView)
async def conversation(conversation_id: ConversationId, queries: QueriesDep) -> ConversationView:
    return patient_view_of(await queries.by_id(conversation_id))
