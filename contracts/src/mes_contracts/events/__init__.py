"""Events: envelope, payload models, subject registry and JetStream streams."""

from mes_contracts.events.base import SUBJECT_PATTERN, EventPayload, UtcDatetime, service_of
from mes_contracts.events.conversation import (
    ConversationClosed,
    ConversationCloseReason,
    ConversationOpened,
    MessageAccepted,
    MessageBounced,
)
from mes_contracts.events.directory import Finess, MailboxRegistered, Rpps
from mes_contracts.events.envelope import EventEnvelope
from mes_contracts.events.identity import (
    PatientActivated,
    PatientClosed,
    PatientCreated,
    PatientOpposed,
    PatientProfileChanged,
    PatientState,
    PatientUpdated,
)
from mes_contracts.events.mailbox import MessageRead
from mes_contracts.events.parties import AttachmentRef, Party, PartyKind
from mes_contracts.events.registry import EVENT_TYPES, UnknownEventTypeError, payload_model_for
from mes_contracts.events.streams import STREAMS, StreamSpec, stream_for_subject
from mes_contracts.nondelivery import NonDeliveryReason

__all__ = [
    "EVENT_TYPES",
    "STREAMS",
    "SUBJECT_PATTERN",
    "AttachmentRef",
    "ConversationCloseReason",
    "ConversationClosed",
    "ConversationOpened",
    "EventEnvelope",
    "EventPayload",
    "Finess",
    "MailboxRegistered",
    "MessageAccepted",
    "MessageBounced",
    "MessageRead",
    "NonDeliveryReason",
    "Party",
    "PartyKind",
    "PatientActivated",
    "PatientClosed",
    "PatientCreated",
    "PatientOpposed",
    "PatientProfileChanged",
    "PatientState",
    "PatientUpdated",
    "Rpps",
    "StreamSpec",
    "UnknownEventTypeError",
    "UtcDatetime",
    "payload_model_for",
    "service_of",
    "stream_for_subject",
]
