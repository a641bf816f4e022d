"""A patient's documents: kept by content type, listed newest first, downloaded and deleted
by their owner only; saved from a received attachment; copied into attachments to send."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from sqlalchemy.exc import IntegrityError

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.ids import new_id
from mes_platform.errors import Conflict, DomainError
from mes_platform.idempotency import StoredResponse, request_fingerprint, run_once

from ..domain.attachments import ContentSniffer, check_extension, sanitize_filename
from ..domain.documents import (
    DOCUMENT_TYPES,
    MAX_DOCUMENT_BYTES,
    Document,
    as_document_refusal,
    check_document_type,
    document_too_large,
    document_type_not_allowed,
)
from ..domain.errors import (
    AttachmentNotFound,
    DocumentNotFound,
    InvalidAddress,
    MessageNotFound,
)
from ..domain.identifiers import could_be_id, mailbox_address
from ..domain.messages import Cursor, MailboxKind, mailbox_kind
from .ports import BlobStorage, MailboxUnitOfWork, ReadSide, UnitOfWorkFactory

__all__ = ["DocumentService", "DocumentsPage"]

_NOT_FOUND = "No such document among yours."


@dataclass(frozen=True)
class DocumentsPage:
    items: list[Document]
    next_cursor: str | None


def patient_owner(value: str) -> str:
    """Documents belong to a patient: the one spelling of a patient's address, or refused."""
    owner = mailbox_address(value)
    if mailbox_kind(owner) is not MailboxKind.PATIENT:
        raise InvalidAddress(f"{value!r} is not a patient's address: only patients keep documents.")
    return owner


def _refuse_as_document(exc: DomainError) -> NoReturn:
    refusal = as_document_refusal(exc)
    if refusal is exc:
        raise exc
    raise refusal from exc


def _as_json(d: Document) -> dict[str, Any]:
    return {
        "id": d.id,
        "owner": d.owner,
        "sha256": d.sha256,
        "size": d.size,
        "content_type": d.content_type,
        "filename": d.filename,
        "created_at": d.created_at.isoformat(),
    }


def _from_json(body: Any) -> Document:
    return Document(**(body | {"created_at": datetime.fromisoformat(body["created_at"])}))


class DocumentService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, reader: ReadSide, blobs: BlobStorage
    ) -> None:
        self.uow_factory = uow_factory
        self.reader = reader
        self.blobs = blobs

    async def page(self, owner: str, *, cursor: str | None, limit: int) -> DocumentsPage:
        """Newest first, keyset paging: a document added between two pages neither shifts
        nor repeats the rows of the next page."""
        owner = patient_owner(owner)
        after = Cursor.decode(cursor) if cursor else None
        async with self.reader() as repos:
            rows = await repos.documents.page(owner, after=after, limit=limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return DocumentsPage(
            items, Cursor(items[-1].created_at, items[-1].id).encode() if more else None
        )

    async def _keep(
        self,
        owner: str,
        scope: str,
        key: str | None,
        fingerprint: object,
        act: Callable[[MailboxUnitOfWork], Awaitable[StoredResponse]],
    ) -> Document:
        # With a key, a conflict is the same key stored meanwhile (another replica): the second
        # attempt answers that request's answer.
        answer = await run_once(
            self.uow_factory,
            f"{scope}:{owner}",
            key,
            request_fingerprint(fingerprint),
            act,
            retry_on=IntegrityError if key is not None else (),
            attempts=2,
        )
        if answer is None:
            raise Conflict(
                "Another request under the same Idempotency-Key is being stored; retry.",
                code="concurrent_update",
            )
        return _from_json(answer.body)

    async def upload(
        self, source: BinaryIO, filename: str | None, owner: str, idempotency_key: str | None
    ) -> Document:
        """Keep a file: its type is what its bytes are (pdf, jpeg, png, tiff, txt, rtf), its
        name must agree, at most 5 Mo. Bytes are durable before the row that names them."""
        owner = patient_owner(owner)
        name = sanitize_filename(filename)
        sniffer = ContentSniffer(MAX_DOCUMENT_BYTES)
        try:
            pending = await asyncio.to_thread(self.blobs.receive, source, sniffer)
        except DomainError as exc:
            _refuse_as_document(exc)
        try:
            kind = sniffer.finish()
            if kind not in DOCUMENT_TYPES:
                raise document_type_not_allowed()
            check_extension(name, kind)
        except DomainError as exc:
            await asyncio.to_thread(self.blobs.discard, pending)
            _refuse_as_document(exc)
        except BaseException:
            await asyncio.to_thread(self.blobs.discard, pending)
            raise
        await asyncio.to_thread(self.blobs.commit, pending)
        document = Document(
            id=new_id(),
            owner=owner,
            sha256=pending.sha256,
            size=pending.size,
            content_type=kind.content_type,
            filename=name,
            created_at=datetime.now(UTC),
        )

        async def add(uow: MailboxUnitOfWork) -> StoredResponse:
            await uow.documents.add(document)
            return StoredResponse(201, _as_json(document))

        fingerprint = {"filename": name, "sha256": document.sha256, "size": document.size}
        try:
            return await self._keep(owner, "document", idempotency_key, fingerprint, add)
        finally:
            # The bytes back in place if another document's deletion took them meanwhile.
            await asyncio.to_thread(self.blobs.settle, pending)

    async def save_attachment(
        self, owner: str, message_id: str, attachment_id: str, idempotency_key: str | None
    ) -> Document:
        """Keep an attachment of a message of the owner's own mailbox as a document: the same
        bytes (nothing copied on disk), if its type and size are those a document may have."""
        owner = patient_owner(owner)
        if not could_be_id(message_id):
            raise MessageNotFound("No such message in this mailbox.")

        async def save(uow: MailboxUnitOfWork) -> StoredResponse:
            copy = await uow.messages.get(owner, message_id)
            if copy is None:
                raise MessageNotFound("No such message in this mailbox.")
            ref = next((a for a in copy.attachments if a.id == attachment_id), None)
            if ref is None:
                raise AttachmentNotFound("This message has no such attachment.")
            check_document_type(ref.content_type)
            if ref.size > MAX_DOCUMENT_BYTES:
                raise document_too_large(ref.size)
            if not await asyncio.to_thread(self.blobs.path_for(ref.sha256).is_file):
                raise AttachmentNotFound("This message has no such attachment.")
            document = Document(
                id=new_id(),
                owner=owner,
                sha256=ref.sha256,
                size=ref.size,
                content_type=ref.content_type,
                filename=ref.filename,
                created_at=datetime.now(UTC),
            )
            await uow.documents.add(document)
            return StoredResponse(201, _as_json(document))

        fingerprint = {"message_id": message_id, "attachment_id": attachment_id}
        return await self._keep(owner, "save-document", idempotency_key, fingerprint, save)

    async def open_for(self, owner: str, document_id: str) -> tuple[Document, Path]:
        """The document and where its bytes are; another patient's is answered as missing."""
        owner = patient_owner(owner)
        if not could_be_id(document_id):
            raise DocumentNotFound(_NOT_FOUND)
        async with self.reader() as repos:
            document = (await repos.documents.of_owner(owner, [document_id])).get(document_id)
        if document is None:
            raise DocumentNotFound(_NOT_FOUND)
        return document, self.blobs.path_for(document.sha256)

    async def delete(self, owner: str, document_id: str) -> None:
        """Delete a document; its bytes go once nothing names them (an attachment copied from
        it keeps them). A crash between the two leaves bytes behind, never a dangling row."""
        owner = patient_owner(owner)
        if not could_be_id(document_id):
            raise DocumentNotFound(_NOT_FOUND)
        async with self.uow_factory() as uow:
            removed = await uow.documents.remove(owner, document_id)
            if removed is None:
                raise DocumentNotFound(_NOT_FOUND)
            await uow.commit()
        await self._release(removed.sha256)

    async def _release(self, sha256: str) -> None:
        """Remove bytes no row names. A row naming them may commit at any moment (an upload of
        the same content): they are moved aside first and put back if one appeared; a writer
        that committed after the last look puts them back itself (``BlobStorage.settle``)."""
        if await self._named(sha256):
            return
        aside = await asyncio.to_thread(self.blobs.retire, sha256)
        if aside is None:
            return
        if await self._named(sha256):
            await asyncio.to_thread(self.blobs.restore, aside, sha256)
        else:
            await asyncio.to_thread(self.blobs.purge, aside)

    async def _named(self, sha256: str) -> bool:
        async with self.reader() as repos:
            return await repos.documents.bytes_in_use(sha256)

    async def attach(
        self, owner: str, document_ids: Sequence[str], idempotency_key: str | None
    ) -> list[AttachmentRef]:
        """Copy documents into attachments the owner may send, one per id given, in that
        order; any id that is not one of the owner's documents refuses the whole call."""
        owner = patient_owner(owner)
        ids = list(document_ids)
        missing = [i for i in ids if not could_be_id(i)]
        if missing:
            raise DocumentNotFound(_NOT_FOUND, ids=missing)

        async def copy(uow: MailboxUnitOfWork) -> StoredResponse:
            # Locked: a deletion of one of them waits, then sees the copies naming its bytes.
            found = await uow.documents.of_owner(owner, ids, lock=True)
            absent = [i for i in dict.fromkeys(ids) if i not in found]
            if absent:
                raise DocumentNotFound(_NOT_FOUND, ids=absent)
            now = datetime.now(UTC)
            refs = []
            for document_id in ids:
                attachment = found[document_id].as_attachment(new_id(), now)
                await uow.attachments.add(attachment)
                refs.append(attachment.ref.model_dump(mode="json"))
            return StoredResponse(200, {"attachments": refs})

        answer = await run_once(
            self.uow_factory,
            f"attach-documents:{owner}",
            idempotency_key,
            request_fingerprint({"document_ids": ids}),
            copy,
            retry_on=IntegrityError if idempotency_key is not None else (),
            attempts=2,
        )
        if answer is None:
            raise Conflict(
                "Another request under the same idempotency key is being stored; retry.",
                code="concurrent_update",
            )
        body: dict[str, list[dict[str, Any]]] = answer.body  # type: ignore[assignment]
        return [AttachmentRef.model_validate(ref) for ref in body["attachments"]]
