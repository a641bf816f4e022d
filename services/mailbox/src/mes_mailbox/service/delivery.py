"""Delivery: admitted and bounced messages become copies in the mailboxes concerned.

Idempotent by construction: copies are keyed by (mailbox, message id), derived copies have
derived ids, and storage skips keys it already holds; the consumer also records handled
event ids. A redelivered event therefore changes nothing, not even a read flag.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from mes_contracts import EventEnvelope
from mes_contracts.events.conversation import MessageAccepted, MessageBounced

from ..domain.messages import MessageCopy, copies_for_accepted, copies_for_bounced
from .ports import MailboxUnitOfWork

__all__ = ["DELIVERY_SUBJECTS", "deliver", "deliver_many"]

log = logging.getLogger(__name__)

DELIVERY_SUBJECTS = (MessageAccepted.SUBJECT, MessageBounced.SUBJECT)


def _copies(envelope: EventEnvelope, now: datetime) -> list[MessageCopy]:
    if envelope.type == MessageAccepted.SUBJECT:
        return copies_for_accepted(envelope.payload_as(MessageAccepted), now)
    if envelope.type == MessageBounced.SUBJECT:
        return copies_for_bounced(envelope.payload_as(MessageBounced), now)
    log.info("event ignored", extra={"event_id": envelope.id, "type": envelope.type})
    return []


async def deliver(uow: MailboxUnitOfWork, envelope: EventEnvelope) -> None:
    """Handler for one event, in the consumer's transaction."""
    await deliver_many(uow, [envelope])


async def deliver_many(uow: MailboxUnitOfWork, envelopes: Sequence[EventEnvelope]) -> None:
    """Handler for a batch of events, in one transaction: a few statements whatever the size."""
    now = datetime.now(UTC)
    copies = [c for e in envelopes for c in _copies(e, now)]
    await uow.messages.add_copies(copies, now)
