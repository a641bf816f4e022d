"""A patient replies in a conversation, or starts one where the rules allow it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mes_contracts.addresses import (
    AddressError,
    AddressInvalidReason,
    PatientAddress,
)
from mes_contracts.events.parties import AttachmentRef, Party, PartyKind
from mes_contracts.ids import new_id
from mes_platform.errors import Conflict, Forbidden, NotFound, Unprocessable

from ..domain.admission import Initiation, initiation_by_patient, message_size, reply_subject
from ..domain.model import Conversation, PatientResolution, actor_address, closed_notice_for
from ..domain.outcomes import Admitted, Outcome
from .common import Idempotency, Limits, accepted_event, opened_event, replayed, run_once
from .ports import (
    ConcurrentWrite,
    ConversationReader,
    ConversationUnitOfWork,
    LoggedMessage,
    MailboxDirectory,
    PatientResolver,
)

__all__ = [
    "PatientMessages",
    "PatientReply",
    "PatientStart",
    "conversation_closed",
    "initiation_refused",
]


@dataclass(frozen=True)
class PatientReply:
    ins: str
    conversation_id: str
    body: str
    attachments: tuple[AttachmentRef, ...] = ()
    subject: str | None = None


@dataclass(frozen=True)
class PatientStart:
    ins: str
    recipient: str
    subject: str
    body: str
    attachments: tuple[AttachmentRef, ...] = ()

    @property
    def size_bytes(self) -> int:
        return message_size(self.subject, self.body, (a.size for a in self.attachments))


def conversation_not_found() -> NotFound:
    # The same answer whether the conversation does not exist or is another patient's.
    return NotFound("No such conversation for this patient.", code="conversation_not_found")


def conversation_closed(c: Conversation) -> Conflict:
    detail = c.closed_notice or closed_notice_for(c.correspondent.display_name)
    return Conflict(
        detail,
        code="conversation_closed",
        closed_by=c.closed_by,
        close_reason=c.close_reason.value if c.close_reason else None,
    )


_REFUSALS = {
    Initiation.PATIENT_NOT_ACTIVATED: (
        "Writing to a pharmacy requires an activated Mon espace santé profile."
    ),
    Initiation.PROFILE_INACTIVE: (
        "This patient has no active Mon espace santé profile (none, closed or opposed)."
    ),
    Initiation.RECIPIENT_IS_PATIENT: (
        "A patient may only write to a pharmacy, or to a health actor who wrote to them and"
        " has not ended the exchange; not to another patient."
    ),
    Initiation.NOT_ALLOWED: (
        "A patient may only write to a pharmacy, or to a health actor who wrote to them and"
        " has not ended the exchange."
    ),
}


def initiation_refused(why: Initiation) -> Forbidden:
    """One code for every refusal to start a conversation, as the public contract says; the
    precise cause goes in ``reason``."""
    return Forbidden(_REFUSALS[why], code="initiation_not_allowed", reason=why.value)


class PatientMessages:
    def __init__(
        self,
        uow_factory: Callable[[], ConversationUnitOfWork],
        reader: ConversationReader,
        resolver: PatientResolver,
        directory: MailboxDirectory,
        limits: Limits,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.reader = reader
        self.resolver = resolver
        self.directory = directory
        self.limits = limits
        self.clock = clock

    async def _patient(self, ins: str) -> tuple[PatientResolution, Party]:
        address = PatientAddress(ins).format()
        resolution = await self.resolver.resolve(address)
        party = Party(
            address=address, kind=PartyKind.PATIENT, display_name=resolution.display_name or address
        )
        return resolution, party

    async def reply(self, r: PatientReply, idempotency: Idempotency | None) -> Outcome:
        """A patient replies only in their own conversation, and only while it is open."""
        subject = self.limits.check_subject(r.subject) if r.subject is not None else None
        self.limits.check_body(r.body)
        self.limits.check_content(subject or "", r.body, len(r.attachments))
        scope = "patient:" + r.ins
        replay = await replayed(self.reader, scope, idempotency)
        if replay is not None:
            return replay
        current = await self.reader.get(r.conversation_id)
        if current is None or current.patient_ins != r.ins:
            raise conversation_not_found()
        if not current.accepts_reply_from_patient():
            raise conversation_closed(current)
        default_subject = reply_subject(current.subject, self.limits.max_subject_chars)
        self.limits.check_size(
            message_size(subject or default_subject, r.body, (a.size for a in r.attachments))
        )
        resolution, patient = await self._patient(r.ins)
        if not resolution.deliverable:
            raise Forbidden(_REFUSALS[Initiation.PROFILE_INACTIVE], code="patient_profile_inactive")

        async def decide(uow: ConversationUnitOfWork) -> Admitted:
            conversation = await uow.conversations.get(r.conversation_id)
            if conversation is None or conversation.patient_ins != r.ins:
                raise conversation_not_found()
            if not conversation.accepts_reply_from_patient():
                raise conversation_closed(conversation)
            now = self.clock()
            conversation.record_message(now, resolution.display_name)
            if not await uow.conversations.save(conversation):
                raise ConcurrentWrite(conversation.id)
            return await self._accept(
                uow,
                conversation,
                patient,
                subject or default_subject,
                r.body,
                r.attachments,
                now,
            )

        return await run_once(self.uow_factory, scope, idempotency, decide)

    async def start(self, s: PatientStart, idempotency: Idempotency | None) -> Outcome:
        """Pharmacy exception: an activated patient may always write to a pharmacy's ORG
        mailbox, even after it closed an exchange. Anyone else must have written to the patient
        and not ended their latest exchange."""
        self.limits.check_subject(s.subject)
        self.limits.check_body(s.body)
        self.limits.check_content(s.subject, s.body, len(s.attachments))
        self.limits.check_size(s.size_bytes)
        try:
            to = actor_address(s.recipient)
        except AddressError as exc:
            if exc.reason is AddressInvalidReason.PATIENT_DOMAIN:
                raise initiation_refused(Initiation.RECIPIENT_IS_PATIENT) from exc
            raise Unprocessable(
                f"'to' is not a health actor's address: {exc.detail}",
                code="invalid_recipient",
                reason=exc.reason.value,
            ) from exc
        scope = "patient:" + s.ins
        replay = await replayed(self.reader, scope, idempotency)
        if replay is not None:
            return replay
        entry = await self.directory.get(to)
        resolution, patient = await self._patient(s.ins)
        correspondent_address = entry.address if entry is not None else to

        async def decide(uow: ConversationUnitOfWork) -> Admitted:
            # Decided in turn with the health actor's messages: a [FIN] being admitted must
            # not miss the conversation this would open.
            await uow.conversations.lock_pair(s.ins, correspondent_address)
            latest = await uow.conversations.latest_with(s.ins, correspondent_address)
            decision = initiation_by_patient(resolution, entry, latest)
            if not decision.allowed:
                raise initiation_refused(decision)
            if entry is not None:
                correspondent = entry.as_correspondent()
            else:
                assert latest is not None
                correspondent = latest.correspondent
            now = self.clock()
            conversation = Conversation.open_by(
                patient.address,
                patient_ins=s.ins,
                correspondent=correspondent,
                subject=s.subject,
                at=now,
                patient_display_name=resolution.display_name,
            )
            await uow.conversations.add(conversation)
            uow.emit(opened_event(conversation))
            return await self._accept(
                uow, conversation, patient, s.subject, s.body, s.attachments, now
            )

        return await run_once(self.uow_factory, scope, idempotency, decide)

    async def _accept(
        self,
        uow: ConversationUnitOfWork,
        conversation: Conversation,
        patient: Party,
        subject: str,
        body: str,
        attachments: tuple[AttachmentRef, ...],
        now: datetime,
    ) -> Admitted:
        message_id = new_id()
        recipient = conversation.correspondent.as_party()
        await uow.messages.record(
            LoggedMessage(
                message_id=message_id,
                conversation_id=conversation.id,
                sender_address=patient.address,
                recipient_address=recipient.address,
                subject=subject,
                status="accepted",
                bounce_reason=None,
                created_at=now,
            )
        )
        uow.emit(
            accepted_event(
                message_id=message_id,
                conversation=conversation,
                sender=patient,
                recipient=recipient,
                subject=subject,
                body=body,
                attachments=attachments,
                sent_at=now,
            )
        )
        return Admitted(message_id=message_id, conversation_id=conversation.id)
