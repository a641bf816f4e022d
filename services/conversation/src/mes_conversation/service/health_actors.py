"""A health actor writes to a patient: delivered into a conversation, or bounced with a report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mes_contracts.addresses import (
    AddressError,
    MailboxType,
    PatientAddress,
    is_patient_address,
)
from mes_contracts.events.conversation import MessageBounced
from mes_contracts.events.parties import AttachmentRef, Party, PartyKind
from mes_contracts.ids import new_id
from mes_contracts.ins import InsError
from mes_contracts.nondelivery import NonDeliveryReason, non_delivery_text
from mes_platform.errors import Forbidden, Unprocessable

from ..domain.admission import Admission, conversation_for_message, message_size
from ..domain.model import (
    Conversation,
    DirectoryEntry,
    PatientResolution,
    ResolutionStatus,
    actor_address,
)
from ..domain.outcomes import Admitted, Bounced, Outcome
from .common import (
    Idempotency,
    Limits,
    accepted_event,
    closed_event,
    opened_event,
    replayed,
    run_once,
)
from .ports import (
    ConcurrentWrite,
    ConversationReader,
    ConversationUnitOfWork,
    LoggedMessage,
    MailboxDirectory,
    PatientResolver,
)

__all__ = ["HealthActorMessage", "HealthActorMessages"]


@dataclass(frozen=True)
class HealthActorMessage:
    sender: str
    recipient: str
    subject: str
    body: str
    attachments: tuple[AttachmentRef, ...] = ()
    read_receipt: bool = False
    in_reply_to: str | None = None
    fin: bool = False  # the X-MSS-MES: FIN header
    # Who holds the token: a person ("professional") or software ("application"); None when
    # the caller does not say (no rule on the mailbox's type then).
    sent_by: str | None = None

    @property
    def size_bytes(self) -> int:
        return message_size(self.subject, self.body, (a.size for a in self.attachments))


def _check_sent_by(sent_by: str | None, entry: DirectoryEntry) -> None:
    """An application mailbox (APP) sends for software, with an application token; the other
    mailboxes for people, with a professional's token."""
    if sent_by is None:
        return
    expected = "application" if entry.type is MailboxType.APP else "professional"
    if sent_by != expected:
        raise Forbidden(
            f"{entry.address} is a {entry.type.value} mailbox: it sends with a token of the "
            f"role {expected}, not {sent_by}.",
            code="mailbox_type_not_allowed",
            mailbox_type=entry.type.value,
        )


class HealthActorMessages:
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

    async def send(self, m: HealthActorMessage, idempotency: Idempotency | None) -> Outcome:
        """Only a health actor of the directory may write, and only to a patient. An address
        that identity cannot deliver to bounces (with the exact French report, sent back as an
        event), as does one over the size limit; otherwise the message joins or opens a
        conversation, and ``[FIN]`` closes it (a pharmacy's) or ends the whole exchange with
        the patient (anyone else's). A message with nothing in it is refused."""
        try:
            sender_address = actor_address(m.sender)
        except AddressError as exc:
            raise Unprocessable(
                f"'from' is not a health actor's address: {exc.detail}",
                code="invalid_sender",
                reason=exc.reason.value,
            ) from exc
        self.limits.check_subject(m.subject)
        self.limits.check_body(m.body)
        self.limits.check_content(m.subject, m.body, len(m.attachments))
        if not is_patient_address(m.recipient):
            raise Unprocessable(
                "Messages are accepted for patients' addresses only.", code="recipient_not_patient"
            )
        scope = "send:" + sender_address
        replay = await replayed(self.reader, scope, idempotency)
        if replay is not None:
            return replay
        entry = await self.directory.get(sender_address)
        if entry is None:
            raise Unprocessable(
                "The sender's mailbox is not in the MSSanté directory.",
                code="sender_not_registered",
            )
        _check_sent_by(m.sent_by, entry)
        resolution = await self._resolve(m.recipient)
        admission = Admission.decide(
            resolution,
            subject=m.subject,
            fin_header=m.fin,
            size_bytes=m.size_bytes,
            max_bytes=self.limits.max_message_bytes,
        )

        async def decide(uow: ConversationUnitOfWork) -> Admitted | Bounced:
            if admission.bounce_reason is not None:
                return await self._bounce(uow, m, entry, admission.bounce_reason)
            return await self._deliver(uow, m, entry, resolution, admission)

        return await run_once(self.uow_factory, scope, idempotency, decide)

    async def _resolve(self, address: str) -> PatientResolution:
        # The INS rule is the shared contract identity applies too: a malformed address need
        # not cost a call (and could not travel in a URL path anyway).
        try:
            parsed = PatientAddress.parse(address)
        except (AddressError, InsError):
            return PatientResolution(address=address, status=ResolutionStatus.INVALID)
        return await self.resolver.resolve(parsed.format())

    @staticmethod
    async def _end_exchange(
        uow: ConversationUnitOfWork, ins: str, sender: str, at: datetime
    ) -> None:
        """The health actor's ``[FIN]`` closes every conversation still open between it and
        the patient, those the patient opened included: otherwise one left open would keep
        letting the patient write, and start new ones, after the exchange ended."""
        for other in await uow.conversations.open_between(ins, sender):
            other.close_by(sender, at)
            # Not saved: closed meanwhile (by the idle closer), which leaves it closed too.
            if await uow.conversations.save(other):
                uow.emit(closed_event(other))

    async def _bounce(
        self,
        uow: ConversationUnitOfWork,
        m: HealthActorMessage,
        entry: DirectoryEntry,
        reason: NonDeliveryReason,
    ) -> Bounced:
        now = self.clock()
        message_id = new_id()
        report = non_delivery_text(reason, m.recipient)
        await uow.messages.record(
            LoggedMessage(
                message_id=message_id,
                conversation_id=None,
                sender_address=entry.address,
                recipient_address=m.recipient,
                subject=m.subject,
                status="bounced",
                bounce_reason=reason,
                created_at=now,
            )
        )
        uow.emit(
            MessageBounced(
                message_id=message_id,
                sender=entry.as_correspondent().as_party(),
                recipient_address=m.recipient,
                subject=m.subject,
                reason=reason,
                report_text=report,
                bounced_at=now,
            )
        )
        return Bounced(message_id=message_id, reason=reason, report_text=report)

    async def _deliver(
        self,
        uow: ConversationUnitOfWork,
        m: HealthActorMessage,
        entry: DirectoryEntry,
        resolution: PatientResolution,
        admission: Admission,
    ) -> Admitted:
        assert resolution.ins is not None
        ins, sender = resolution.ins, entry.address
        now = self.clock()
        await uow.conversations.lock_pair(ins, sender)
        replied_to: Conversation | None = None
        if m.in_reply_to:
            replied_id = await uow.messages.conversation_of(m.in_reply_to)
            replied_to = await uow.conversations.get(replied_id) if replied_id else None
        conversation = conversation_for_message(
            sender,
            ins,
            replied_to=replied_to,
            open_with_sender=await uow.conversations.latest_open_with(ins, sender),
        )
        is_new = conversation is None
        if conversation is None:
            conversation = Conversation.open_by(
                sender,
                patient_ins=ins,
                correspondent=entry.as_correspondent(),
                subject=m.subject,
                at=now,
                patient_display_name=resolution.display_name,
            )
            uow.emit(opened_event(conversation))
        conversation.record_message(now, resolution.display_name)
        if admission.closes_conversation:
            conversation.close_by(sender, now)
        if is_new:
            await uow.conversations.add(conversation)
        elif not await uow.conversations.save(conversation):
            raise ConcurrentWrite(conversation.id)
        message_id = new_id()
        patient_address = conversation.patient_address
        await uow.messages.record(
            LoggedMessage(
                message_id=message_id,
                conversation_id=conversation.id,
                sender_address=sender,
                recipient_address=patient_address,
                subject=m.subject,
                status="accepted",
                bounce_reason=None,
                created_at=now,
            )
        )
        uow.emit(
            accepted_event(
                message_id=message_id,
                conversation=conversation,
                sender=entry.as_correspondent().as_party(),
                recipient=Party(
                    address=patient_address,
                    kind=PartyKind.PATIENT,
                    display_name=resolution.display_name or patient_address,
                ),
                subject=m.subject,
                body=m.body,
                attachments=m.attachments,
                sent_at=now,
                read_receipt=m.read_receipt,
                in_reply_to=m.in_reply_to,
                closes=admission.closes_conversation,
            )
        )
        if admission.closes_conversation:
            uow.emit(closed_event(conversation))
            if entry.fin_ends_the_exchange:
                await self._end_exchange(uow, ins, sender, now)
        return Admitted(message_id=message_id, conversation_id=conversation.id)
