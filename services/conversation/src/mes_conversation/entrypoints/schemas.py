"""The conversation service's answers built from its domain: the models are the shared ones of
:mod:`mes_contracts.internal.conversation`; only how a conversation or an outcome fills them
lives here."""

from __future__ import annotations

from typing import Any

from mes_contracts.events.parties import PartyKind
from mes_contracts.internal.conversation import (
    AdmissionOut,
    ConversationView,
    CorrespondentOut,
    MailboxConversationView,
    PatientCorrespondentOut,
)

from ..domain.model import Conversation
from ..domain.outcomes import Bounced, Outcome, first_outcome

__all__ = ["admission_of", "mailbox_view_of", "patient_view_of"]


def _fields(c: Conversation, patient_may_write: bool = True) -> dict[str, Any]:
    return {
        "id": c.id,
        "subject": c.subject,
        "state": c.state.value,
        "patient_ins": c.patient_ins,
        "opened_by": c.opened_by,
        "opened_at": c.opened_at,
        "last_activity_at": c.last_activity_at,
        "closed_by": c.closed_by,
        "closed_at": c.closed_at,
        "close_reason": c.close_reason.value if c.close_reason else None,
        "reply_allowed": patient_may_write and c.accepts_reply_from_patient(),
        "closed_notice": c.closed_notice,
    }


def patient_view_of(c: Conversation, *, patient_may_write: bool = True) -> ConversationView:
    """The conversation as the patient sees it: the correspondent is the health actor.
    ``patient_may_write``: false when the patient's profile refuses every reply."""
    correspondent = CorrespondentOut(
        address=c.correspondent.address,
        kind=c.correspondent.kind,
        display_name=c.correspondent.display_name,
    )
    return ConversationView(**_fields(c, patient_may_write), correspondent=correspondent)


def mailbox_view_of(c: Conversation) -> MailboxConversationView:
    """The conversation as the health actor's mailbox sees it: the correspondent is the
    patient."""
    correspondent = PatientCorrespondentOut(
        address=c.patient_address, kind=PartyKind.PATIENT, display_name=c.patient_display_name
    )
    return MailboxConversationView(**_fields(c), correspondent=correspondent)


def admission_of(outcome: Outcome) -> AdmissionOut:
    """A replay answers as the first request was answered."""
    first = first_outcome(outcome)
    if isinstance(first, Bounced):
        return AdmissionOut(
            message_id=first.message_id,
            conversation_id=None,
            status="bounced",
            bounce_reason=first.reason.value,
            report_text=first.report_text,
        )
    return AdmissionOut(
        message_id=first.message_id, conversation_id=first.conversation_id, status="accepted"
    )
