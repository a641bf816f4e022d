"""Attachments: accepted by content type, stored durably before anything references them,
and handed out only to the mailboxes entitled to them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.ids import new_id
from mes_platform.errors import Conflict
from mes_platform.idempotency import StoredResponse, request_fingerprint, run_once

from ..domain.attachments import (
    AttachmentType,
    ContentSniffer,
    StoredAttachment,
    check_extension,
    holds_a_word_document,
    sanitize_filename,
    type_not_allowed,
)
from ..domain.errors import AttachmentNotFound, AttachmentUnknown
from ..domain.identifiers import could_be_id, mailbox_address
from .ports import BlobStorage, MailboxUnitOfWork, ReadSide, UnitOfWorkFactory

__all__ = ["AttachmentService", "Resolved"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    """The attachments a message may carry, in the order asked, and their total size."""

    items: list[AttachmentRef]

    @property
    def total_bytes(self) -> int:
        return sum(ref.size for ref in self.items)


def _is_word_document(path: Path) -> bool:
    with path.open("rb") as file:
        return holds_a_word_document(file)


class AttachmentService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        reader: ReadSide,
        blobs: BlobStorage,
        max_bytes: int,
    ) -> None:
        self.uow_factory = uow_factory
        self.reader = reader
        self.blobs = blobs
        self.max_bytes = max_bytes

    async def upload(
        self,
        source: BinaryIO,
        filename: str | None,
        owner: str,
        idempotency_key: str | None = None,
    ) -> AttachmentRef:
        """Store an attachment; its type is what its bytes are, and its name must agree.

        With ``idempotency_key``, the same upload again (same owner, name and bytes) answers
        the first one's reference and stores nothing more; other bytes or another name under
        the same key are refused (``idempotency_key_reused``)."""
        owner = mailbox_address(owner)
        name = sanitize_filename(filename)
        sniffer = ContentSniffer(self.max_bytes)
        pending = await asyncio.to_thread(self.blobs.receive, source, sniffer)
        try:
            kind = sniffer.finish()
            if kind is AttachmentType.DOC and not await asyncio.to_thread(
                _is_word_document, pending.temp_path
            ):
                raise type_not_allowed("This compound file is not a Word document. ")
            check_extension(name, kind)
        except BaseException:
            await asyncio.to_thread(self.blobs.discard, pending)
            raise
        # Bytes durable first: the row below is what makes them referenceable.
        await asyncio.to_thread(self.blobs.commit, pending)
        stored = StoredAttachment(
            id=new_id(),
            sha256=pending.sha256,
            size=pending.size,
            content_type=kind.content_type,
            filename=name,
            uploaded_by=owner,
            created_at=datetime.now(UTC),
        )
        fingerprint = request_fingerprint(
            {"filename": name, "sha256": stored.sha256, "size": stored.size}
        )

        async def add(uow: MailboxUnitOfWork) -> StoredResponse:
            await uow.attachments.add(stored)
            return StoredResponse(201, stored.ref.model_dump(mode="json"))

        # With a key, a conflict is the same key stored meanwhile (another replica): the second
        # attempt answers that upload's answer.
        try:
            answer = await run_once(
                self.uow_factory,
                f"upload:{owner}",
                idempotency_key,
                fingerprint,
                add,
                retry_on=IntegrityError if idempotency_key is not None else (),
                attempts=2,
            )
        finally:
            # The bytes back in place if a deleted document's took them meanwhile.
            await asyncio.to_thread(self.blobs.settle, pending)
        if answer is None:
            raise Conflict(
                "Another upload under the same Idempotency-Key is being stored; retry.",
                code="concurrent_update",
            )
        return AttachmentRef.model_validate(answer.body)

    async def resolve(self, owner: str, ids: Sequence[str]) -> Resolved:
        """The references a message from ``owner`` may carry: attachments it uploaded, or that
        it holds in a message (forwarding), each with its size.

        The size of the whole message (body and attachments) is the admission's to judge: a
        professional's message over the limit is bounced with a report, not refused here.
        """
        owner = mailbox_address(owner)
        wanted = list(dict.fromkeys(ids))
        async with self.reader() as repos:
            found = await repos.attachments.usable_by(owner, [i for i in wanted if could_be_id(i)])
        missing = [i for i in wanted if i not in found]
        if missing:
            raise AttachmentUnknown(
                "Some attachments do not exist or are not yours to send.", ids=missing
            )
        return Resolved([found[i].ref for i in wanted])

    async def open_for(self, mailbox: str, attachment_id: str) -> tuple[StoredAttachment, Path]:
        """The attachment and where its bytes are, if ``mailbox`` may see it. The answer for
        "not yours" and "does not exist" is the same, so ids cannot be probed."""
        mailbox = mailbox_address(mailbox)
        if not could_be_id(attachment_id):
            raise AttachmentNotFound("No such attachment for this mailbox.")
        async with self.reader() as repos:
            found = await repos.attachments.usable_by(mailbox, [attachment_id])
        stored = found.get(attachment_id)
        if stored is None:
            raise AttachmentNotFound("No such attachment for this mailbox.")
        path = self.blobs.path_for(stored.sha256)
        if not await asyncio.to_thread(path.is_file):
            log.error(
                "attachment bytes missing",
                extra={"attachment_id": attachment_id, "sha256": stored.sha256},
            )
            raise AttachmentNotFound("No such attachment for this mailbox.")
        return stored, path
