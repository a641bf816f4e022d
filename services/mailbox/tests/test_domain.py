"""Pure rules: content typing, file names, cursors, the copies an event makes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from mes_contracts.events.conversation import MessageAccepted, MessageBounced
from mes_contracts.nondelivery import NON_DELIVERY_SUBJECT
from mes_mailbox.domain.attachments import (
    AttachmentType,
    ContentSniffer,
    check_extension,
    sanitize_filename,
)
from mes_mailbox.domain.errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeNotAllowed,
    InvalidAddress,
    InvalidCursor,
)
from mes_mailbox.domain.identifiers import mailbox_address, stored_address
from mes_mailbox.domain.messages import (
    MAILER_DAEMON_ADDRESS,
    Cursor,
    Folder,
    MessageKind,
    SentStatus,
    copies_for_accepted,
    copies_for_bounced,
    read_receipt_for,
)


def sniff(data: bytes, chunk: int = 7, limit: int = 10_000) -> AttachmentType:
    sniffer = ContentSniffer(limit)
    for i in range(0, len(data), chunk):
        sniffer.feed(data[i : i + chunk])
    return sniffer.finish()


@pytest.mark.parametrize(
    "name,expected",
    [
        ("pdf", AttachmentType.PDF),
        ("png", AttachmentType.PNG),
        ("jpeg", AttachmentType.JPEG),
        ("tiff", AttachmentType.TIFF),
        ("rtf", AttachmentType.RTF),
        ("doc", AttachmentType.DOC),
        ("txt", AttachmentType.TXT),
    ],
)
def test_content_decides_the_type_even_in_small_chunks(kit, name, expected):
    assert sniff(kit.FILES[name]) is expected


def test_big_endian_tiff_and_accented_text_split_mid_character():
    assert sniff(b"MM\x00*" + b"\x00" * 20) is AttachmentType.TIFF
    # "é" is two bytes in UTF-8: a chunk boundary between them is still text.
    assert sniff(("Prescription é" * 40).encode(), chunk=3) is AttachmentType.TXT


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00binary",
        b"text with a NUL\x00 in it",
        b"\xff\xfe odd length",  # a UTF-16 byte order mark, then not UTF-16
        "\ufeffUTF-16 with a NUL\x00".encode("utf-16-le"),
        b"Windows-1252 leaves \x81 undefined",
        b"PK\x03\x04zip",
    ],
)
def test_other_content_is_refused(data):
    with pytest.raises(AttachmentTypeNotAllowed):
        sniff(data)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "latin-1", "utf-16", "utf-16-be"])
def test_french_text_in_the_encodings_of_its_software_is_text(encoding):
    text = "Posologie : 1 comprimé matin et soir, à renouveler — « Dr Müller »\r\n" * 30
    if encoding == "latin-1":
        text = text.replace("—", "-")  # Latin-1 has no dash; Windows-1252 has
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""  # "utf-16" writes its own
    data = bom + text.encode(encoding)
    assert sniff(data, chunk=5) is AttachmentType.TXT


def test_empty_and_oversize_files_are_refused():
    with pytest.raises(AttachmentEmpty):
        ContentSniffer(10).finish()
    with pytest.raises(AttachmentTooLarge):
        sniff(b"a" * 11, limit=10)
    assert sniff(b"a" * 10, limit=10) is AttachmentType.TXT


@pytest.mark.parametrize(
    "filename,kind,ok",
    [
        ("ordonnance.pdf", AttachmentType.PDF, True),
        ("SCAN.PDF", AttachmentType.PDF, True),
        ("photo.jpg", AttachmentType.JPEG, True),
        ("photo.jpeg", AttachmentType.JPEG, True),
        ("scan.tif", AttachmentType.TIFF, True),
        ("ordonnance.pdf", AttachmentType.PNG, False),
        ("ordonnance", AttachmentType.PDF, False),
        ("notes.txt.exe", AttachmentType.TXT, False),
    ],
)
def test_the_name_must_agree_with_the_content(filename, kind, ok):
    if ok:
        check_extension(filename, kind)
    else:
        with pytest.raises(AttachmentTypeMismatch):
            check_extension(filename, kind)


def test_file_names_are_sanitized():
    assert sanitize_filename("../../etc/passwd.pdf") == "passwd.pdf"
    assert sanitize_filename("C:\\Users\\marie\\ordo.pdf") == "ordo.pdf"
    assert sanitize_filename("ord\r\nonnance\x00.pdf") == "ordonnance.pdf"
    assert sanitize_filename("") == "piece-jointe"
    long = sanitize_filename("a" * 400 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")


def test_cursor_round_trips_and_refuses_tampering():
    cursor = Cursor(datetime(2024, 5, 2, 9, 30, tzinfo=UTC), "msg-1")
    assert Cursor.decode(cursor.encode()) == cursor
    edge = Cursor(datetime(1, 1, 1, tzinfo=UTC), "m" * 64)
    assert Cursor.decode(edge.encode()) == edge
    for bad in [
        "",
        "not-base64!",
        cursor.encode()[:-3],
        cursor.encode() + "=",
        cursor.encode()[:4] + "!" + cursor.encode()[4:],  # ignored by a lenient decoder
        "W10",
        "eyJhIjoxfQ",
        _token('["0001-01-01T00:00:00+14:00","x"]'),
        _token('["9999-12-31T23:59:59-14:00","x"]'),
        _token('["2024-05-02T11:30:00+02:00","msg-1"]'),
        _token('["2024-05-02T09:30:00Z","msg-1"]'),
        _token('["2024-05-02T09:30:00+00:00", "msg-1"]'),
        _token('["2024-05-02T09:30:00+00:00","\\u0000"]'),
        _token('["2024-05-02T09:30:00+00:00","\\ud800"]'),
        _token('["2024-05-02T09:30:00+00:00",["msg-1"]]'),
    ]:
        with pytest.raises(InvalidCursor):
            Cursor.decode(bad)


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_one_spelling_per_mailbox():
    for spelling in [
        "Dr.Martin@Hopital-Exemple.MSSANTE.fr",
        " DR.MARTIN@hopital-exemple.mssante.fr",
    ]:
        assert mailbox_address(spelling) == "dr.martin@hopital-exemple.mssante.fr"
    assert mailbox_address("185052a00412356@Patient.mssante.fr") == (
        "185052A00412356@patient.mssante.fr"
    )
    for bad in [
        "dr.martin@example.org",
        "dr.martin",
        "123@patient.mssante.fr",
        "a\x00@x.mssante.fr",
    ]:
        with pytest.raises(InvalidAddress) as refused:
            mailbox_address(bad)
        assert refused.value.code == "invalid_address"
    # What a bounced message's sender typed is kept, its domain in lower case.
    assert stored_address("12345@Patient.MSSANTE.fr") == "12345@patient.mssante.fr"
    assert stored_address("Dr.Martin@Hopital.mssante.FR") == "dr.martin@hopital.mssante.fr"


def test_an_accepted_message_makes_a_sent_and_an_inbox_copy(kit):
    event = kit.accepted(message_id="m1", receipt=True).payload_as(MessageAccepted)
    sent, inbox = copies_for_accepted(event, kit.T0)
    assert (sent.mailbox_address, sent.folder, sent.status) == (
        kit.DOCTOR,
        Folder.SENT,
        SentStatus.ACCEPTED,
    )
    assert (inbox.mailbox_address, inbox.folder, inbox.read) == (kit.PATIENT, Folder.INBOX, False)
    assert sent.read and inbox.wants_receipt_on_first_read and not sent.wants_receipt_on_first_read


def test_copies_hold_the_parties_in_their_one_spelling_whatever_the_event_wrote(kit):
    envelope = kit.accepted(message_id="m1")
    payload = dict(envelope.payload)
    payload["sender"] = {**payload["sender"], "address": "Dr.Martin@Hopital-Exemple.MSSANTE.fr"}
    payload["recipient"] = {**payload["recipient"], "address": "279035121518989@Patient.mssante.fr"}
    typed = envelope.model_copy(update={"payload": payload})
    sent, inbox = copies_for_accepted(typed.payload_as(MessageAccepted), kit.T0)
    for copy in (sent, inbox):
        assert (copy.sender_address, copy.recipient_address) == (kit.DOCTOR, kit.PATIENT)
    assert (sent.mailbox_address, inbox.mailbox_address) == (kit.DOCTOR, kit.PATIENT)


def test_a_bounce_makes_a_bounced_sent_copy_and_a_report_with_a_stable_id(kit):
    event = kit.bounced(message_id="m2").payload_as(MessageBounced)
    sent, report = copies_for_bounced(event, kit.T0)
    assert sent.status is SentStatus.BOUNCED and sent.bounce_reason == "closed"
    assert report.kind is MessageKind.NON_DELIVERY and report.subject == NON_DELIVERY_SUBJECT
    assert report.body == event.report_text and report.sender_address == MAILER_DAEMON_ADDRESS
    assert report.mailbox_address == kit.DOCTOR
    assert copies_for_bounced(event, kit.T0)[1].message_id == report.message_id


def test_read_receipt_goes_to_the_sender_in_french(kit):
    _, inbox = copies_for_accepted(
        kit.accepted(message_id="m3", receipt=True).payload_as(MessageAccepted), kit.T0
    )
    receipt = read_receipt_for(inbox, datetime(2024, 5, 2, 18, 12, tzinfo=UTC))
    assert receipt.mailbox_address == kit.DOCTOR and receipt.folder is Folder.INBOX
    assert receipt.subject == "Accusé de lecture : Résultats d'analyses"
    # French time: 18:12 UTC is 20:12 in Paris in summer, and 19:12 in winter.
    assert "a été lu le 02/05/2024 à 20:12 (heure de Paris) par Marie Dupont" in receipt.body
    winter = read_receipt_for(inbox, datetime(2024, 12, 2, 18, 12, tzinfo=UTC))
    assert "a été lu le 02/12/2024 à 19:12 (heure de Paris)" in winter.body
    assert receipt.kind is MessageKind.READ_RECEIPT and receipt.in_reply_to == "m3"
