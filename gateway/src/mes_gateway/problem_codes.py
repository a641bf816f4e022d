"""Every problem ``code`` the public API answers: its status, its title and an example of its
``detail`` and extension members, as the gateway or the service behind it renders them.

A code a route can answer must be here before a route can list it (``problems(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CODES", "CodeDoc"]


@dataclass(frozen=True)
class CodeDoc:
    status: int
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


_U = "Unprocessable request"
_PRO = "dr.durand@clinique.mssante.fr"

CODES: dict[str, CodeDoc] = {
    # The gateway's own, and every route's
    "bad_request": CodeDoc(400, "Bad request", "The body is not valid JSON."),
    "unauthenticated": CodeDoc(
        401, "Authentication required", "Send 'Authorization: Bearer <token>'."
    ),
    "invalid_token": CodeDoc(401, "Invalid token", "The token has expired.", {"reason": "expired"}),
    "forbidden_role": CodeDoc(
        403,
        "Role not allowed",
        "This operation is for the role(s) ops; your token has the role patient.",
        {"allowed_roles": ["ops"]},
    ),
    "payload_too_large": CodeDoc(
        413, "Payload too large", "The request body exceeds the limit of 1048576 bytes."
    ),
    "unsupported_media_type": CodeDoc(
        415,
        "Unsupported media type",
        "Send the body as JSON (Content-Type: application/json).",
    ),
    "validation_error": CodeDoc(
        422,
        "Invalid request",
        "The request does not match the schema; see 'errors'.",
        {
            "errors": [
                {
                    "loc": ["query", "limit"],
                    "msg": "Input should be less than or equal to 100",
                    "type": "less_than_equal",
                }
            ]
        },
    ),
    "invalid_idempotency_key": CodeDoc(
        422, _U, "Idempotency-Key must be 1 to 200 printable ASCII characters."
    ),
    "idempotency_key_reused": CodeDoc(
        422,
        "Idempotency key reused with a different request",
        "This Idempotency-Key was already used for a different request.",
    ),
    "service_unavailable": CodeDoc(
        503,
        "Service unavailable",
        "The mailbox service is unavailable; retry later.",
        {"service": "mailbox"},
    ),
    "invalid_cursor": CodeDoc(422, "Invalid cursor", "The cursor is not one this service issued."),
    # Sending and reading messages
    "mailbox_not_granted": CodeDoc(
        403,
        "Forbidden",
        f"Your token does not grant the mailbox '{_PRO}'.",
        {"address": _PRO},
    ),
    "mailbox_type_not_allowed": CodeDoc(
        403,
        "Forbidden",
        "dr.martin@hopital-exemple.mssante.fr is a PER mailbox: it sends with a token of the "
        "role professional, not application.",
        {"mailbox_type": "PER"},
    ),
    "sender_not_registered": CodeDoc(
        422,
        "Unprocessable request",
        "The sender's mailbox is not in the MSSanté directory.",
    ),
    "invalid_sender": CodeDoc(
        422, _U, "'from' is not a health actor's address: the domain must end in .mssante.fr"
    ),
    "recipient_not_patient": CodeDoc(
        422, _U, "Messages are accepted for patients' addresses only."
    ),
    "invalid_recipient": CodeDoc(
        422,
        _U,
        "'to' is not an address: local part must be a dot-atom of 1 to 64 ASCII characters.",
        {"reason": "malformed"},
    ),
    "invalid_body": CodeDoc(
        422,
        _U,
        "The body must not contain control characters other than tab, carriage return and "
        "line feed.",
    ),
    "invalid_mss_mes": CodeDoc(422, _U, "The X-MSS-MES header accepts only the value FIN."),
    "empty_message": CodeDoc(
        422, _U, "The message is empty: give it a subject, a text or an attachment."
    ),
    "body_too_long": CodeDoc(422, _U, "The body must be at most 200000 characters."),
    "attachment_unknown": CodeDoc(
        422, "Unknown attachment", "Unknown attachment ids.", {"ids": ["a1b2"]}
    ),
    "message_too_large": CodeDoc(
        413,
        "Message too large",
        "The message (subject, text and attachments) is 27263080 bytes; the limit is "
        "26214400 bytes.",
        {"size_bytes": 27263080, "max_bytes": 26214400},
    ),
    "concurrent_update": CodeDoc(
        409, "Conflict", "The conversation changed while the message was being admitted; retry."
    ),
    "message_not_found": CodeDoc(404, "Message not found", "No such message in this mailbox."),
    "invalid_address": CodeDoc(422, "Invalid address", "This is not an address."),
    # The patient's conversations
    "conversation_not_found": CodeDoc(404, "Not found", "No such conversation for this patient."),
    "conversation_closed": CodeDoc(
        409,
        "Conflict",
        "Dr Claire Martin a mis fin à vos échanges.",
        {
            "closed_by": "claire.martin@hopital-exemple.mssante.fr",
            "close_reason": "fin",
        },
    ),
    "initiation_not_allowed": CodeDoc(
        403,
        "Forbidden",
        "A patient may only write to a pharmacy, or to a health actor who wrote to them and "
        "has not ended the exchange.",
        {"reason": "no_open_exchange"},
    ),
    "patient_profile_inactive": CodeDoc(
        403,
        "Forbidden",
        "This patient has no active Mon espace santé profile (none, closed or opposed).",
    ),
    # Attachments
    "file_required": CodeDoc(422, _U, "Send the file as a multipart/form-data part named `file`."),
    "file_part_not_a_file": CodeDoc(
        422,
        _U,
        "The `file` part carries no file name: give one with `filename` in its "
        "Content-Disposition (`filename*` is not used in multipart/form-data, RFC 7578).",
    ),
    "one_file_per_upload": CodeDoc(
        422, _U, "Send one file per upload (this request has 2 `file` parts)."
    ),
    "mailbox_required": CodeDoc(
        422, _U, "Say which of your mailboxes uploads this file (`mailbox`)."
    ),
    "attachment_empty": CodeDoc(422, "Empty attachment", "The attachment is empty."),
    "attachment_type_not_allowed": CodeDoc(
        415,
        "Attachment type not allowed",
        "Only pdf, jpg/jpeg, png, tiff, txt, rtf and doc files may be attached.",
        {"allowed": ["doc", "jpeg", "jpg", "pdf", "png", "rtf", "tif", "tiff", "txt"]},
    ),
    "attachment_type_mismatch": CodeDoc(
        415,
        "Attachment name does not match its content",
        "The file content is png, which does not match the name 'ordonnance.pdf'.",
        {"detected_type": "png"},
    ),
    "attachment_not_found": CodeDoc(404, "Not found", "No such attachment in your mailboxes."),
    # Patient profiles and the directory
    "patient_not_found": CodeDoc(404, "Not found", "No patient profile for this INS."),
    "invalid_ins": CodeDoc(422, _U, "INS key is 88, expected 89", {"reason": "wrong_key"}),
    "invalid_name": CodeDoc(
        422,
        "Not a name that can be shown",
        "display_name must not be empty.",
        {"field": "display_name", "reason": "empty"},
    ),
    "name_too_long": CodeDoc(422, "Name too long", "The name is longer than 200 characters."),
    "mailbox_not_found": CodeDoc(
        404, "Mailbox not found", "No mailbox dr.durand@clinique.mssante.fr in the directory."
    ),
    "invalid_finess": CodeDoc(
        422,
        "Invalid FINESS number",
        "A pharmacy's mailbox needs the FINESS number of the officine.",
    ),
    "invalid_rpps": CodeDoc(422, "Invalid RPPS number", "An RPPS number is 11 digits."),
    "pharmacy_requires_org": CodeDoc(
        422,
        "A pharmacy is reachable only through an organisational mailbox",
        "A pharmacy's mailbox must be of type ORG, not PER.",
    ),
    # The patient's documents
    "document_not_found": CodeDoc(404, "Document not found", "No such document among yours."),
    "document_too_large": CodeDoc(
        413,
        "Document too large",
        "A document may hold at most 5242880 bytes (5 Mo).",
        {"max_bytes": 5242880},
    ),
    "document_type_not_allowed": CodeDoc(
        415,
        "Document type not allowed",
        "Only pdf, jpg/jpeg, png, tiff, txt and rtf files may be kept in your documents.",
        {"allowed": ["jpeg", "jpg", "pdf", "png", "rtf", "tif", "tiff", "txt"]},
    ),
    "document_type_mismatch": CodeDoc(
        415,
        "Document name does not match its content",
        "The file content is png, which does not match the name 'ordonnance.pdf'.",
        {"detected_type": "png"},
    ),
    "document_empty": CodeDoc(422, "Empty document", "The document is empty."),
    # Pharmacies
    "pharmacy_not_found": CodeDoc(
        404, "Pharmacy not found", "No pharmacy 750000001 in the directory."
    ),
    "pharmacy_closed": CodeDoc(
        409, "The pharmacy is closed", "This pharmacy is closed: it no longer receives requests."
    ),
    "pharmacy_without_mailbox": CodeDoc(
        409,
        "The pharmacy has no organisational mailbox",
        "This pharmacy has no organisational MSSanté mailbox: it cannot receive messages.",
    ),
    "profile_not_activated": CodeDoc(
        403,
        "Profile not activated",
        "Writing to a pharmacy requires an activated Mon espace santé profile.",
    ),
    "nothing_attached": CodeDoc(
        422,
        "Nothing attached",
        "Attach at least one document (the prescription) or attachment.",
    ),
    "pharmacy_requests_rate_limited": CodeDoc(
        429,
        "Too many requests to pharmacies",
        "Too many requests to pharmacies; retry after 1200 seconds.",
        {"retry_after_seconds": 1200},
    ),
    "invalid_query": CodeDoc(422, "Invalid search text", "The search text has no letter or digit."),
    "invalid_near": CodeDoc(422, "Invalid search text", "'near' is LAT,LON in decimal degrees."),
    "invalid_alert_email": CodeDoc(
        422,
        "Invalid alert e-mail address",
        "'pharmacie' is not an e-mail address.",
    ),
    "invalid_dispensation": CodeDoc(
        422,
        "Invalid dispensation",
        "A dispensation's date must not be in the future.",
    ),
    # Notifications
    "notification_not_found": CodeDoc(
        404, "Notification not found", "No such notification for this patient."
    ),
    "device_not_found": CodeDoc(404, "Device not found", "No such device for this patient."),
    # Development tokens
    "claim_not_allowed": CodeDoc(422, _U, "Only a patient token carries an INS."),
    "ins_required": CodeDoc(422, _U, "A patient token needs an INS."),
    "invalid_mailboxes": CodeDoc(422, _U, "at least one MSSanté mailbox is required"),
}
