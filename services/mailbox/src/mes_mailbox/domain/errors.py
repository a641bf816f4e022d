"""Refusals of the mailbox service, each with its HTTP status and stable code.

``mes_platform.errors`` is plain Python (no web framework), so the domain may raise them.
"""

from __future__ import annotations

from mes_platform.errors import DomainError, InvalidCursor, NotFound, Unprocessable

__all__ = [
    "AttachmentEmpty",
    "AttachmentNotFound",
    "AttachmentTooLarge",
    "AttachmentTypeMismatch",
    "AttachmentTypeNotAllowed",
    "AttachmentUnknown",
    "DocumentEmpty",
    "DocumentNotFound",
    "DocumentTooLarge",
    "DocumentTypeMismatch",
    "DocumentTypeNotAllowed",
    "InvalidAddress",
    "InvalidCursor",
    "MessageNotFound",
]


class AttachmentTooLarge(DomainError):
    status = 413
    code = "attachment_too_large"
    title = "Attachment too large"


class AttachmentTypeNotAllowed(DomainError):
    status = 415
    code = "attachment_type_not_allowed"
    title = "Attachment type not allowed"


class AttachmentTypeMismatch(DomainError):
    status = 415
    code = "attachment_type_mismatch"
    title = "Attachment name does not match its content"


class AttachmentEmpty(Unprocessable):
    code = "attachment_empty"
    title = "Empty attachment"


class AttachmentUnknown(Unprocessable):
    code = "attachment_unknown"
    title = "Unknown attachment"


class InvalidAddress(Unprocessable):
    code = "invalid_address"
    title = "Invalid address"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    title = "Attachment not found"


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "Message not found"


class DocumentNotFound(NotFound):
    code = "document_not_found"
    title = "Document not found"


class DocumentTooLarge(DomainError):
    status = 413
    code = "document_too_large"
    title = "Document too large"


class DocumentTypeNotAllowed(DomainError):
    status = 415
    code = "document_type_not_allowed"
    title = "Document type not allowed"


class DocumentTypeMismatch(DomainError):
    status = 415
    code = "document_type_mismatch"
    title = "Document name does not match its content"


class DocumentEmpty(Unprocessable):
    code = "document_empty"
    title = "Empty document"
