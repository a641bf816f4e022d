"""The e-mails the notifier sends, as MIME messages a mail client or a bounce processor reads.

None of them names the sender, subject, body or attachments of a health message: a patient and
a pharmacy only learn that a message waits, a professional which of its messages was read or
not delivered, identified by address and Message-ID. Wording is French, as the product's.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.charset import QP, Charset
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT, NonDeliveryReason

__all__ = [
    "DSN_STATUS",
    "MailIdentity",
    "OutgoingEmail",
    "french_datetime",
    "non_delivery_report",
    "patient_new_messages",
    "pharmacy_alert",
    "read_receipt",
]

_POLICY = policy.SMTP
_PARIS = ZoneInfo("Europe/Paris")
_MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\uffff;]")

# RFC 3463 status codes per reason: unknown or opposed address, closed mailbox, bad address
# syntax, message too large. All 5.x.x: a permanent failure of that address.
DSN_STATUS: dict[NonDeliveryReason, tuple[str, str]] = {
    NonDeliveryReason.NOT_FOUND: ("5.1.1", "mailbox does not exist"),
    NonDeliveryReason.CLOSED: ("5.2.1", "mailbox disabled, not accepting messages"),
    NonDeliveryReason.INVALID: ("5.1.3", "bad destination mailbox address syntax"),
    NonDeliveryReason.TOO_LARGE: ("5.3.4", "message too big for system"),
}


@dataclass(frozen=True, slots=True)
class MailIdentity:
    """Who the notifier writes as: the From: of every e-mail, the domain of its Message-IDs
    and of the original messages' ids, and where patients log in."""

    sender: str  # "Mon espace santé <ne-pas-repondre@messagerie.mssante.fr>"
    domain: str  # "messagerie.mssante.fr"
    login_url: str


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered e-mail: the envelope (an empty ``mail_from`` is the null reverse path of
    reports, so that a report never bounces back) and the bytes."""

    mail_from: str
    rcpt_to: str
    message_id: str
    content: bytes


def french_datetime(moment: datetime) -> str:
    """``2 mai 2024 à 11:30``, in Paris time."""
    local = moment.astimezone(_PARIS)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"


def message_id_header(local: str, domain: str) -> str:
    return f"<{local}@{domain}>"


def _text(body: str, subtype: str = "plain") -> MIMEText:
    charset = Charset("utf-8")
    charset.body_encoding = QP
    return MIMEText(body, subtype, charset, policy=_POLICY)  # type: ignore[arg-type]


def _headers(
    message: Message,
    identity: MailIdentity,
    to: str,
    subject: str,
    msg_id: str,
    now: datetime | None,
) -> None:
    message["From"] = identity.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now if now is not None else _TEMPLATE_DATE)
    message["Message-ID"] = msg_id
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "fr"


def _alternative(
    text: str, paragraphs: list[str], link: str | None, closing: str | None = None
) -> MIMEMultipart:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if link is not None:
        body += f'<p><a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>'
    if closing is not None:
        body += f"<p><small>{html.escape(closing)}</small></p>"
    page = f'<!DOCTYPE html><html lang="fr"><body>{body}</body></html>'
    part = MIMEMultipart("alternative", policy=_POLICY)
    part.attach(_text(text))
    part.attach(_text(page, "html"))
    return part


def _safe(value: str) -> str:
    """An address as a report's field may carry it: one line, no spaces nor controls."""
    return _UNSAFE.sub("?", value)[:320] or "?"


def patient_new_messages(
    identity: MailIdentity, *, to: str, count: int, notification_id: str, now: datetime
) -> OutgoingEmail:
    """One e-mail for ``count`` new messages: it says they wait, and where to log in.

    Every such e-mail is the same but for its recipient, date and Message-ID: it is rendered
    once per count and those three filled in (rendering through the email package costs
    several milliseconds of CPU per e-mail, more than sending it)."""
    msg_id = message_id_header(notification_id, identity.domain)
    if not (to.isascii() and _PLAIN_HEADER.fullmatch(to) and _PLAIN_HEADER.fullmatch(msg_id)):
        content = _patient_message(identity, to, count, msg_id, now)
    else:
        template = _patient_template(identity, min(count, _MAX_COUNTED))
        if count > _MAX_COUNTED:
            template = _patient_template(identity, count)
        content = (
            template.replace(b"__TO__", to.encode())
            .replace(format_datetime(_TEMPLATE_DATE).encode(), format_datetime(now).encode())
            .replace(b"<__MSGID__>", msg_id.encode())
        )
    return OutgoingEmail(_envelope_from(identity), to, msg_id, content)


_PLAIN_HEADER = re.compile(r"[\x21-\x7e]{1,200}")
_MAX_COUNTED = 20
_TEMPLATE_DATE = datetime(2000, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=64)
def _patient_template(identity: MailIdentity, count: int) -> bytes:
    return _patient_message(identity, "__TO__", count, "<__MSGID__>", None)


def _patient_message(
    identity: MailIdentity, to: str, count: int, msg_id: str, now: datetime | None
) -> bytes:
    if count <= 1:
        subject = "Vous avez reçu un nouveau message sur Mon espace santé"
        news = "Vous avez reçu un nouveau message dans votre messagerie sécurisée Mon espace santé."
    else:
        subject = f"Vous avez reçu {count} nouveaux messages sur Mon espace santé"
        news = (
            f"Vous avez reçu {count} nouveaux messages dans votre messagerie sécurisée"
            " Mon espace santé."
        )
    paragraphs = [
        "Bonjour,",
        news,
        "Pour le consulter, connectez-vous à Mon espace santé :",
    ]
    closing = "Ce courriel est envoyé automatiquement, merci de ne pas y répondre."
    text = "\n\n".join([*paragraphs, identity.login_url, closing]) + "\n"
    message = _alternative(text, paragraphs, identity.login_url, closing)
    _headers(message, identity, to, subject, msg_id, now)
    return message.as_bytes()


def pharmacy_alert(
    identity: MailIdentity,
    *,
    to: str,
    mailbox: str,
    notification_id: str,
    now: datetime,
) -> OutgoingEmail:
    """The alert a pharmacy gets when a message reaches its organisational mailbox."""
    subject = "Nouveau message dans votre boîte aux lettres MSSanté"
    paragraphs = [
        "Bonjour,",
        f"Un nouveau message est arrivé dans la boîte aux lettres MSSanté {mailbox}.",
        "Consultez-le dans votre logiciel de messagerie MSSanté.",
    ]
    text = "\n\n".join(paragraphs) + "\n"
    message = _alternative(text, paragraphs, None)
    msg_id = message_id_header(notification_id, identity.domain)
    _headers(message, identity, to, subject, msg_id, now)
    return OutgoingEmail(_envelope_from(identity), to, msg_id, message.as_bytes())


def read_receipt(
    identity: MailIdentity,
    *,
    to: str,
    reader: str,
    message_id: str,
    read_at: datetime,
    notification_id: str,
    now: datetime,
) -> OutgoingEmail:
    """An RFC 8098 MDN: ``reader`` displayed the message ``message_id`` sent by ``to``."""
    original = message_id_header(message_id, identity.domain)
    human = (
        f'Le message {original} que vous avez envoyé à l\'adresse "{reader}" a été lu par son'
        f" destinataire le {french_datetime(read_at)}.\n\n"
        "Cet accusé de lecture est envoyé automatiquement.\n"
    )
    report = MIMEMultipart("report", policy=_POLICY, report_type="disposition-notification")
    report.attach(_text(human))
    fields = MIMEBase("message", "disposition-notification", policy=_POLICY)
    fields.set_payload(
        f"Reporting-UA: {identity.domain}; Mon espace sante\r\n"
        f"Original-Recipient: rfc822;{_safe(reader)}\r\n"
        f"Final-Recipient: rfc822;{_safe(reader)}\r\n"
        f"Original-Message-ID: {original}\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
    )
    report.attach(fields)
    msg_id = message_id_header(notification_id, identity.domain)
    _headers(report, identity, to, "Accusé de lecture", msg_id, now)
    return OutgoingEmail("", to, msg_id, report.as_bytes())


def non_delivery_report(
    identity: MailIdentity,
    *,
    to: str,
    recipient: str,
    message_id: str,
    reason: NonDeliveryReason,
    report_text: str,
    bounced_at: datetime,
    notification_id: str,
    now: datetime,
) -> OutgoingEmail:
    """An RFC 3464 DSN: the message ``message_id`` to ``recipient`` failed permanently."""
    status, diagnostic = DSN_STATUS[reason]
    original = message_id_header(message_id, identity.domain)
    report = MIMEMultipart("report", policy=_POLICY, report_type="delivery-status")
    report.attach(_text(report_text + "\n"))
    per_message = Message(policy=_POLICY)
    per_message["Reporting-MTA"] = f"dns; {identity.domain}"
    per_message["Original-Envelope-Id"] = _safe(message_id)
    per_message["Arrival-Date"] = format_datetime(bounced_at)
    per_recipient = Message(policy=_POLICY)
    per_recipient["Original-Recipient"] = f"rfc822; {_safe(recipient)}"
    per_recipient["Final-Recipient"] = f"rfc822; {_safe(recipient)}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = f"smtp; 550 {status} {diagnostic}"
    per_recipient["Last-Attempt-Date"] = format_datetime(bounced_at)
    fields = MIMEBase("message", "delivery-status", policy=_POLICY)
    fields.set_payload([per_message, per_recipient])
    report.attach(fields)
    headers = MIMEBase("text", "rfc822-headers", policy=_POLICY)
    headers.set_payload(f"Message-ID: {original}\r\nTo: {_safe(recipient)}\r\nFrom: {to}\r\n")
    report.attach(headers)
    msg_id = message_id_header(notification_id, identity.domain)
    _headers(report, identity, to, NON_DELIVERY_SUBJECT, msg_id, now)
    return OutgoingEmail("", to, msg_id, report.as_bytes())


def _envelope_from(identity: MailIdentity) -> str:
    """The address of ``From:``, for the envelope of the e-mails that are not reports."""
    match = re.search(r"<([^<>]+)>\s*$", identity.sender)
    return match.group(1) if match else identity.sender.strip()
