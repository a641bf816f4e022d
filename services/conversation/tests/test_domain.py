"""The rules themselves, on the pure model: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mes_contracts.addresses import MailboxType
from mes_contracts.events.conversation import ConversationCloseReason
from mes_contracts.events.identity import PatientState
from mes_contracts.events.parties import PartyKind
from mes_contracts.nondelivery import NonDeliveryReason
from mes_conversation.domain.admission import (
    MAX_MESSAGE_BYTES,
    Admission,
    Initiation,
    InvalidSubject,
    check_subject,
    conversation_for_message,
    has_content,
    initiation_by_patient,
    message_size,
    reply_subject,
)
from mes_conversation.domain.model import (
    Conversation,
    ConversationAlreadyClosed,
    Correspondent,
    DirectoryEntry,
    PatientResolution,
    ResolutionStatus,
)

T0 = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
INS = "279035121518989"
DOCTOR = Correspondent("dr.martin@hopital-exemple.mssante.fr", PartyKind.PROFESSIONAL, "Dr Martin")
PHARMACY = DirectoryEntry("pharmacie@officine.mssante.fr", MailboxType.ORG, "Pharmacie", True)
ACTIVATED = PatientResolution(
    "x", ResolutionStatus.DELIVERABLE, ins=INS, state=PatientState.ACTIVATED
)
CREATED = PatientResolution("x", ResolutionStatus.DELIVERABLE, ins=INS, state=PatientState.CREATED)


def conversation(ins: str = INS, with_: Correspondent = DOCTOR) -> Conversation:
    return Conversation.open_by(
        with_.address, patient_ins=ins, correspondent=with_, subject="Résultats", at=T0
    )


@pytest.mark.parametrize(
    ("subject", "fin_header", "closes"),
    [
        ("[FIN]", False, True),
        ("Résultats", True, True),
        ("[fin]", False, False),
        ("[Fin]", False, False),
        ("[FIN] ok", False, False),
        (" [FIN]", False, False),
        ("[FIN] ", False, False),
        ("Re: [FIN]", False, False),
        ("FIN", False, False),
    ],
)
def test_only_exact_fin_subject_or_header_closes(subject: str, fin_header: bool, closes: bool):
    admission = Admission.decide(ACTIVATED, subject=subject, fin_header=fin_header, size_bytes=10)
    assert admission.accepted
    assert admission.closes_conversation is closes


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ResolutionStatus.NOT_FOUND, NonDeliveryReason.NOT_FOUND),
        (ResolutionStatus.CLOSED, NonDeliveryReason.CLOSED),
        (ResolutionStatus.INVALID, NonDeliveryReason.INVALID),
    ],
)
def test_undeliverable_addresses_bounce_and_never_close(status, reason):
    admission = Admission.decide(
        PatientResolution("x", status), subject="[FIN]", fin_header=True, size_bytes=10
    )
    assert admission.bounce_reason is reason
    assert not admission.closes_conversation


def test_a_message_over_25_mo_bounces_as_too_large():
    assert Admission.decide(
        ACTIVATED, subject="s", fin_header=False, size_bytes=MAX_MESSAGE_BYTES + 1
    ).bounce_reason is (NonDeliveryReason.TOO_LARGE)
    assert Admission.decide(
        ACTIVATED, subject="s", fin_header=False, size_bytes=MAX_MESSAGE_BYTES
    ).accepted
    # The limit is a setting.
    small = Admission.decide(
        ACTIVATED, subject="[FIN]", fin_header=False, size_bytes=101, max_bytes=100
    )
    assert small.bounce_reason is NonDeliveryReason.TOO_LARGE and not small.closes_conversation


@pytest.mark.parametrize(
    "subject",
    [
        "a\rb",
        "a\nb",
        "Bcc: x\r\n",
        "a\tb",
        "a\x00",
        "a\x7f",
        "a\u2028b",
        "Résultats\u202efdp.exe",  # right-to-left override: reads "Résultatsexe.pdf"
        "a\u2066b\u2069",  # isolates
        # Invisible format characters: each shows "[FIN]" while the subject is not "[FIN]".
        "\u200f[FIN]",  # right-to-left mark
        "[FIN]\u200e",  # left-to-right mark
        "[F\u200bIN]",  # zero-width space
        "\u200d[FIN]",  # zero-width joiner outside an emoji
        "[FIN]\ufeff",  # zero-width no-break space
        "[FI\u00adN]",  # soft hyphen
        "\u2060[FIN]",  # word joiner
        "a\u200fb",
    ],
)
def test_subjects_with_control_characters_are_refused(subject):
    with pytest.raises(InvalidSubject) as err:
        check_subject(subject, 998)
    assert err.value.code == "invalid_subject"


@pytest.mark.parametrize(
    "subject",
    [
        "مرحبا Dupont",
        "Résultats 👩\u200d⚕️",
        "Famille 👨\u200d👩\u200d👧",
        "Écosse \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    ],
)
def test_subjects_in_any_script_with_emoji_and_marks_are_text(subject):
    assert check_subject(subject, 998) == subject


def test_subject_length_limit():
    assert check_subject("é" * 998, 998)
    with pytest.raises(InvalidSubject) as err:
        check_subject("x" * 999, 998)
    assert err.value.code == "subject_too_long"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Résultats", "Re: Résultats"),
        ("Re: Résultats", "Re: Résultats"),
        ("RE: Résultats", "RE: Résultats"),
        ("", "Re: "),
    ],
)
def test_reply_subject_never_doubles_re(subject, expected):
    assert reply_subject(subject, 998) == expected


def test_reply_subject_stays_within_the_subject_limit():
    derived = reply_subject("S" * 998, 998)
    assert len(derived) == 998
    assert derived.startswith("Re: SSS") and derived.endswith("S…")
    assert reply_subject("S" * 994, 998) == "Re: " + "S" * 994  # fits exactly: untouched
    # Words cut before the ellipsis leave no dangling blank.
    assert reply_subject("x" * 992 + " " + "y" * 10, 998) == "Re: " + "x" * 992 + "…"
    # A stored subject longer than a lowered limit is cut too, prefix or not.
    assert len(reply_subject("Re: " + "x" * 100, 50)) == 50
    assert reply_subject("Résultats", 3) == "Re:"


def test_message_size_counts_subject_body_and_attachments_in_bytes():
    assert message_size("é", "éé", [10, 5]) == 2 + 4 + 15
    assert message_size("", "", []) == 0


@pytest.mark.parametrize(
    ("subject", "body", "attachments", "expected"),
    [
        ("", "", 0, False),
        ("  ", "\n\t", 0, False),
        ("[FIN]", "", 0, True),
        ("", "Bonjour", 0, True),
        ("", "", 1, True),
    ],
)
def test_a_message_needs_a_subject_a_text_or_an_attachment(subject, body, attachments, expected):
    assert has_content(subject, body, attachments) is expected


def test_closing_ends_replies_and_tells_the_patient_who():
    c = conversation()
    assert c.accepts_reply_from_patient() and c.closed_notice is None
    c.close_by(DOCTOR.address, T0 + timedelta(hours=1))
    assert not c.accepts_reply_from_patient()
    assert c.closed_notice == "Dr Martin a mis fin à vos échanges."
    assert (c.closed_by, c.close_reason) == (DOCTOR.address, ConversationCloseReason.FIN)
    with pytest.raises(ConversationAlreadyClosed):
        c.close_by(DOCTOR.address, T0)


def test_idle_close_shows_the_same_notice_as_fin():
    # The health actor's software closed it on its behalf: the patient reads who ended it.
    c = conversation()
    c.close_by(DOCTOR.address, T0, ConversationCloseReason.IDLE)
    assert c.closed_notice == "Dr Martin a mis fin à vos échanges."
    assert not c.accepts_reply_from_patient()


def test_activity_only_moves_forward():
    c = conversation()
    c.record_message(T0 + timedelta(minutes=5))
    c.record_message(T0)
    assert c.last_activity_at == T0 + timedelta(minutes=5)
    assert c.is_idle_since(T0 + timedelta(minutes=6))


def test_a_message_keeps_the_latest_known_patient_name():
    c = conversation()
    assert c.patient_display_name is None and c.patient_address == f"{INS}@patient.mssante.fr"
    c.record_message(T0, "Marie Dupont")
    c.record_message(T0, None)
    assert c.patient_display_name == "Marie Dupont"


def test_message_joins_the_conversation_it_replies_to_when_open():
    replied, other_open = conversation(), conversation()
    assert (
        conversation_for_message(
            DOCTOR.address, INS, replied_to=replied, open_with_sender=other_open
        )
        is replied
    )


def test_after_a_close_the_next_message_starts_a_new_conversation():
    replied = conversation()
    replied.close_by(DOCTOR.address, T0)
    assert (
        conversation_for_message(DOCTOR.address, INS, replied_to=replied, open_with_sender=None)
        is None
    )


def test_replying_to_someone_elses_conversation_does_not_join_it():
    others = conversation(ins="185077512345608")
    colleague = conversation(with_=Correspondent("x@y.mssante.fr", PartyKind.PROFESSIONAL, "X"))
    mine = conversation()
    for replied in (others, colleague):
        assert (
            conversation_for_message(DOCTOR.address, INS, replied_to=replied, open_with_sender=mine)
            is mine
        )


@pytest.mark.parametrize(
    ("type_", "pharmacy", "kind"),
    [
        (MailboxType.PER, False, PartyKind.PROFESSIONAL),
        (MailboxType.CAB, False, PartyKind.PROFESSIONAL),
        (MailboxType.ORG, False, PartyKind.ORGANISATION),
        (MailboxType.ORG, True, PartyKind.PHARMACY),
        (MailboxType.APP, False, PartyKind.APPLICATION),
        (MailboxType.PER, True, PartyKind.PROFESSIONAL),
    ],
)
def test_party_kind_from_the_directory(type_, pharmacy, kind):
    assert DirectoryEntry("a@b.mssante.fr", type_, "A", pharmacy).party_kind is kind


@pytest.mark.parametrize(
    ("type_", "pharmacy", "ends_exchange"),
    [
        (MailboxType.ORG, True, False),  # a pharmacy's [FIN] closes that conversation only
        (MailboxType.PER, True, True),  # a pharmacist's own mailbox is no pharmacy exception
        (MailboxType.PER, False, True),
        (MailboxType.ORG, False, True),
        (MailboxType.APP, False, True),
        (MailboxType.CAB, False, True),
    ],
)
def test_fin_ends_the_whole_exchange_except_for_a_pharmacy(type_, pharmacy, ends_exchange):
    entry = DirectoryEntry("a@b.mssante.fr", type_, "A", pharmacy)
    assert entry.fin_ends_the_exchange is ends_exchange


def test_pharmacy_exception_needs_an_activated_profile_only():
    closed_before = conversation(with_=PHARMACY.as_correspondent())
    closed_before.close_by(PHARMACY.address, T0)
    assert initiation_by_patient(ACTIVATED, PHARMACY, None) is Initiation.PHARMACY
    assert initiation_by_patient(ACTIVATED, PHARMACY, closed_before) is Initiation.PHARMACY
    assert initiation_by_patient(CREATED, PHARMACY, None) is Initiation.PATIENT_NOT_ACTIVATED


def test_pharmacy_exception_is_for_the_organisational_mailbox_only():
    pharmacist = DirectoryEntry("ph@officine.mssante.fr", MailboxType.PER, "Ph", pharmacy=True)
    assert initiation_by_patient(ACTIVATED, pharmacist, None) is Initiation.NOT_ALLOWED


def test_patient_writes_to_a_health_actor_only_if_the_latest_exchange_is_open():
    doctor = DirectoryEntry(DOCTOR.address, MailboxType.PER, "Dr Martin")
    latest = conversation()
    assert initiation_by_patient(CREATED, doctor, latest) is Initiation.KNOWN_CORRESPONDENT
    latest.close_by(DOCTOR.address, T0)
    assert initiation_by_patient(CREATED, doctor, latest) is Initiation.NOT_ALLOWED
    assert initiation_by_patient(CREATED, doctor, None) is Initiation.NOT_ALLOWED


def test_an_inactive_profile_starts_nothing():
    closed = PatientResolution("x", ResolutionStatus.CLOSED, ins=INS)
    assert initiation_by_patient(closed, PHARMACY, None) is Initiation.PROFILE_INACTIVE
