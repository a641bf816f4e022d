"""Subject → payload model: how a consumer knows what an envelope carries."""

from __future__ import annotations

from mes_contracts.events.base import SUBJECT_PATTERN, EventPayload
from mes_contracts.events.conversation import (
    ConversationClosed,
    ConversationOpened,
    MessageAccepted,
    MessageBounced,
)
from mes_contracts.events.directory import MailboxRegistered
from mes_contracts.events.identity import (
    PatientActivated,
    PatientClosed,
    PatientCreated,
    PatientOpposed,
    PatientUpdated,
)
from mes_contracts.events.mailbox import MessageRead

__all__ = ["EVENT_TYPES", "UnknownEventTypeError", "payload_model_for"]


class UnknownEventTypeError(LookupError):
    """No payload model is registered for a subject (e.g. a newer version)."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"no payload model registered for subject {subject!r}")


def _register(*models: type[EventPayload]) -> dict[str, type[EventPayload]]:
    registry: dict[str, type[EventPayload]] = {}
    for model in models:
        # Checked at import so that a misnamed or duplicated subject never ships.
        if not SUBJECT_PATTERN.fullmatch(model.SUBJECT):
            raise ValueError(f"{model.__name__}.SUBJECT is not a valid subject: {model.SUBJECT}")
        if model.SUBJECT in registry:
            raise ValueError(f"subject {model.SUBJECT} registered twice")
        registry[model.SUBJECT] = model
    return registry


EVENT_TYPES: dict[str, type[EventPayload]] = _register(
    PatientCreated,
    PatientUpdated,
    PatientActivated,
    PatientOpposed,
    PatientClosed,
    MailboxRegistered,
    MessageAccepted,
    MessageBounced,
    ConversationOpened,
    ConversationClosed,
    MessageRead,
)


def payload_model_for(subject: str) -> type[EventPayload]:
    """Return the payload model of a subject; UnknownEventTypeError if none is registered."""
    try:
        return EVENT_TYPES[subject]
    except KeyError:
        raise UnknownEventTypeError(subject) from None
