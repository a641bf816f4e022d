"""POST /internal/messages: a health actor writes to a patient."""

from __future__ import annotations

import pytest

from mes_contracts.events.conversation import (
    ConversationClosed,
    ConversationOpened,
    MessageAccepted,
    MessageBounced,
)
from mes_conversation.testing import (
    CLOSED_PATIENT,
    DOCTOR,
    LAB,
    OPPOSED_PATIENT,
    OTHER_DOCTOR,
    PATIENT,
    PHARMACY,
    UNREGISTERED,
    address_of,
)

ATTACHMENT = {
    "id": "a1",
    "filename": "cr.pdf",
    "content_type": "application/pdf",
    "size": 1234,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
PREFIX = "Le message que vous avez envoyé à l'adresse "


async def test_first_message_opens_a_conversation_and_is_accepted(harness):
    r = await harness.send(subject="Compte rendu", attachments=[ATTACHMENT], read_receipt=True)
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "accepted" and body["conversation_id"]
    opened, accepted = await harness.events()
    assert opened.type == ConversationOpened.SUBJECT
    assert opened.payload["correspondent"] == {
        "address": DOCTOR,
        "kind": "professional",
        "display_name": "Dr Martin",
    }
    assert opened.payload["subject"] == "Compte rendu"
    message = accepted.payload_as(MessageAccepted)
    assert message.message_id == body["message_id"]
    assert message.conversation_id == body["conversation_id"]
    assert message.recipient.display_name == "Marie Dupont"
    assert message.recipient.address == address_of(PATIENT)
    assert message.read_receipt_requested and not message.closes_conversation
    assert message.attachments[0].filename == "cr.pdf"


async def test_later_messages_join_the_open_conversation(harness):
    first = (await harness.send()).json()
    second = (await harness.send(subject="Suite")).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert len(await harness.events(ConversationOpened.SUBJECT)) == 1


async def test_each_health_actor_has_its_own_conversation(harness):
    a = (await harness.send()).json()
    b = (await harness.send(**{"from": OTHER_DOCTOR})).json()
    assert a["conversation_id"] != b["conversation_id"]


@pytest.mark.parametrize(
    ("sender", "kind"),
    [
        (PHARMACY, "pharmacy"),
        (LAB, "application"),
        (DOCTOR, "professional"),
    ],
)
async def test_sender_kind_comes_from_the_directory(harness, sender, kind):
    await harness.send(**{"from": sender})
    (accepted,) = await harness.events(MessageAccepted.SUBJECT)
    assert accepted.payload["sender"]["kind"] == kind


@pytest.mark.parametrize(
    ("to", "reason", "ending"),
    [
        (
            address_of(OPPOSED_PATIENT),
            "not_found",
            "car cette adresse Mon espace santé n'existe pas.",
        ),
        (
            address_of("185077512345608"[:-2] + "00"),
            "invalid",
            "car cette adresse Mon espace santé est invalidé.",
        ),
        ("12345@patient.mssante.fr", "invalid", "car cette adresse Mon espace santé est invalidé."),
        (
            address_of(CLOSED_PATIENT),
            "closed",
            "car la messagerie Mon espace santé de votre destinataire est clôturée.",
        ),
        (
            "172047501234561@PATIENT.MSSANTE.FR",
            "not_found",
            "car cette adresse Mon espace santé n'existe pas.",
        ),
        (
            "299999999999999@patient.mssante.fr",
            "invalid",
            "car cette adresse Mon espace santé est invalidé.",
        ),
    ],
)
async def test_undeliverable_address_bounces_with_the_exact_report(harness, to, reason, ending):
    r = await harness.send(to=to)
    assert r.status_code == 202
    body = r.json()
    expected = f'{PREFIX}"{to}" n\'a pas pu être distribué, {ending}'
    assert body == {
        "message_id": body["message_id"],
        "conversation_id": None,
        "status": "bounced",
        "bounce_reason": reason,
        "report_text": expected,
    }
    (event,) = await harness.events()
    bounced = event.payload_as(MessageBounced)
    assert bounced.report_text == expected
    assert (bounced.reason, bounced.recipient_address) == (reason, to)
    assert bounced.sender.address == DOCTOR and bounced.message_id == body["message_id"]


async def test_unknown_valid_ins_bounces_as_not_found(harness):
    r = await harness.send(to=address_of("299019912312325"[:-2] + "25"))
    assert r.json()["status"] == "bounced"
    r = await harness.send(to=address_of("185077512345608"))  # known: Paul Martin
    assert r.json()["status"] == "accepted"


async def test_too_large_message_bounces(harness):
    big = dict(ATTACHMENT, size=26 * 1024 * 1024)
    body = (await harness.send(attachments=[big])).json()
    assert (body["status"], body["bounce_reason"]) == ("bounced", "too_large")


async def test_attachments_alone_over_25_mo_bounce_with_the_report(harness):
    # Three files of 9 MiB, each one acceptable, a tiny text: 27 MiB in all.
    parts = [dict(ATTACHMENT, id=f"a{i}", size=9 * 1024 * 1024) for i in range(3)]
    r = await harness.send(subject="Imagerie", body="x", attachments=parts)
    assert r.status_code == 202
    body = r.json()
    expected = (
        f'{PREFIX}"{address_of(PATIENT)}" n\'a pas pu être distribué, car sa taille dépasse la'
        " limite autorisée de 25 Mo (26 214 400 octets)."
    )
    assert (body["status"], body["bounce_reason"], body["conversation_id"]) == (
        "bounced",
        "too_large",
        None,
    )
    assert body["report_text"] == expected
    (event,) = await harness.events()
    bounced = event.payload_as(MessageBounced)
    assert (bounced.reason, bounced.report_text, bounced.sender.address) == (
        "too_large",
        expected,
        DOCTOR,
    )


async def test_the_size_limit_counts_subject_body_and_attachments(harness_factory):
    # A setting; exactly at the limit passes, one byte more bounces.
    async with harness_factory(max_message_bytes=100) as h:
        part = dict(ATTACHMENT, size=90)
        ok = (await h.send(subject="é", body="12345678", attachments=[part])).json()
        assert ok["status"] == "accepted"
        over = (await h.send(subject="éé", body="12345678", attachments=[part])).json()
        assert (over["status"], over["bounce_reason"]) == ("bounced", "too_large")
        body_only = (await h.send(subject="s", body="é" * 50)).json()
        assert body_only["bounce_reason"] == "too_large"


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "", "body": ""},
        {"subject": "  ", "body": "\n"},
    ],
)
async def test_a_message_with_nothing_in_it_is_refused(harness, fields):
    r = await harness.send(**fields)
    assert (r.status_code, r.json()["code"]) == (422, "empty_message")
    assert await harness.events() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "[FIN]", "body": ""},
        {"subject": "", "body": "Bonjour"},
        {"subject": "", "body": "", "attachments": [ATTACHMENT]},
    ],
)
async def test_a_subject_a_text_or_an_attachment_is_enough(harness, fields):
    r = await harness.send(**fields)
    assert (r.status_code, r.json()["status"]) == (202, "accepted")


FIN_CASES = [
    ("[FIN]", False, True),
    ("Merci", True, True),
    ("[fin]", False, False),
    ("[FIN] ok", False, False),
    (" [FIN]", False, False),
]


@pytest.mark.parametrize(("subject", "fin", "closes"), FIN_CASES)
async def test_fin_closes_the_conversation_only_when_exact(harness, subject, fin, closes):
    opened = (await harness.send()).json()
    r = await harness.send(subject=subject, fin=fin)
    assert r.json()["conversation_id"] == opened["conversation_id"]
    view = (await harness.client.get(f"/internal/conversations/{opened['conversation_id']}")).json()
    assert view["state"] == ("closed" if closes else "open")
    assert view["reply_allowed"] is not closes
    closed_events = await harness.events(ConversationClosed.SUBJECT)
    assert len(closed_events) == (1 if closes else 0)
    last = (await harness.events(MessageAccepted.SUBJECT))[-1].payload_as(MessageAccepted)
    assert last.closes_conversation is closes
    if closes:
        closed = closed_events[0].payload_as(ConversationClosed)
        assert (closed.closed_by, closed.reason) == (DOCTOR, "fin")
        assert view["closed_notice"] == "Dr Martin a mis fin à vos échanges."
        assert view["close_reason"] == "fin" and view["closed_by"] == DOCTOR


@pytest.mark.parametrize("subject", ["\u200f[FIN]", "[FIN]\u200b", "[F\u200dIN]", "\ufeff[FIN]"])
async def test_a_fin_look_alike_is_refused_and_the_conversation_stays_open(harness, subject):
    opened = (await harness.send()).json()
    r = await harness.send(subject=subject)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_subject")
    view = (await harness.client.get(f"/internal/conversations/{opened['conversation_id']}")).json()
    assert (view["state"], view["reply_allowed"]) == ("open", True)
    assert await harness.events(ConversationClosed.SUBJECT) == []


@pytest.mark.parametrize(
    ("size", "status"),
    [
        (26_000_000, "accepted"),  # 26 MB, but under 25 Mo of 1,048,576 bytes
        (26_214_400, "accepted"),  # exactly 25 Mo
        (26_214_401, "bounced"),
    ],
)
async def test_the_25_mo_limit_counts_1_048_576_bytes_a_mo(harness, size, status):
    subject, body = "Imagerie", "Clichés joints."
    attachment = dict(ATTACHMENT, size=size - len(subject.encode()) - len(body.encode()))
    r = (await harness.send(subject=subject, body=body, attachments=[attachment])).json()
    assert r["status"] == status
    if status == "bounced":
        assert r["bounce_reason"] == "too_large"
        assert r["report_text"].endswith(
            "sa taille dépasse la limite autorisée de 25 Mo (26 214 400 octets)."
        )


async def test_a_message_after_fin_opens_a_new_conversation(harness):
    first = (await harness.send()).json()
    await harness.send(subject="[FIN]")
    again = (await harness.send(subject="Nouveau résultat")).json()
    assert again["conversation_id"] != first["conversation_id"]
    # Even as a reply to a message of the closed conversation.
    reply = (await harness.send(in_reply_to=first["message_id"])).json()
    assert reply["conversation_id"] == again["conversation_id"]
    assert len(await harness.events(ConversationOpened.SUBJECT)) == 2


async def test_in_reply_to_picks_the_conversation_of_that_message(harness):
    first = (await harness.send()).json()
    await harness.client.post(
        f"/internal/patients/{PATIENT}/conversations",
        json={"to": DOCTOR, "subject": "Autre", "body": "?"},
    )
    # The patient's new conversation is now the latest open one with the doctor;
    # replying to the first message still lands in the first conversation.
    reply = (await harness.send(in_reply_to=first["message_id"])).json()
    assert reply["conversation_id"] == first["conversation_id"]


async def test_fin_as_first_message_opens_and_closes(harness):
    body = (await harness.send(subject="[FIN]")).json()
    assert body["status"] == "accepted"
    types = [e.type for e in await harness.events()]
    assert types == [
        ConversationOpened.SUBJECT,
        MessageAccepted.SUBJECT,
        ConversationClosed.SUBJECT,
    ]


async def test_sender_must_be_in_the_directory(harness):
    r = await harness.send(**{"from": UNREGISTERED})
    assert (r.status_code, r.json()["code"]) == (422, "sender_not_registered")
    assert await harness.events() == []


@pytest.mark.parametrize("to", [OTHER_DOCTOR, "someone@gmail.com", "no-at-sign"])
async def test_only_patients_are_recipients(harness, to):
    r = await harness.send(to=to)
    assert (r.status_code, r.json()["code"]) == (422, "recipient_not_patient")


@pytest.mark.parametrize("subject", ["Résultats\r\nBcc: x@y.fr", "a\nb", "a\rb", "nul\x00"])
async def test_subject_with_line_breaks_is_refused(harness, subject):
    r = await harness.send(subject=subject)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_subject")


async def test_length_limits(harness):
    r = await harness.send(subject="x" * 999)
    assert (r.status_code, r.json()["code"]) == (422, "subject_too_long")
    r = await harness.send(body="x" * 200_001)
    assert (r.status_code, r.json()["code"]) == (422, "body_too_long")


async def test_unknown_fields_are_refused(harness):
    r = await harness.send(cc="x@y.mssante.fr")
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_identity_unreachable_answers_503_and_records_nothing(harness):
    harness.resolver.down = True
    r = await harness.send()
    assert (r.status_code, r.json()["code"]) == (503, "dependency_unavailable")
    assert await harness.events() == []
    harness.resolver.down = False
    assert (await harness.send()).status_code == 202


async def test_idempotency_key_replays_the_first_answer_and_emits_once(harness):
    key = {"Idempotency-Key": "k-1"}
    first = await harness.send(headers=key)
    again = await harness.send(headers=key)
    assert again.status_code == first.status_code == 202
    assert again.json() == first.json()
    assert len(await harness.events(MessageAccepted.SUBJECT)) == 1
    other = await harness.send(headers=key, body="Autre chose")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    # The same recipient in capitals is the same request.
    shouted = await harness.send(headers=key, to=address_of(PATIENT).upper())
    assert shouted.json() == first.json()
    # The key belongs to the sender: another sender may use the same one.
    colleague = await harness.send(headers=key, **{"from": OTHER_DOCTOR})
    assert colleague.json()["message_id"] != first.json()["message_id"]


async def test_an_idempotency_key_out_of_bounds_is_refused_and_nothing_is_sent(harness):
    for key in ("", "k" * 201):
        r = await harness.send(headers={"Idempotency-Key": key})
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), key
        assert r.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await harness.events() == []
    assert (await harness.send(headers={"Idempotency-Key": "k" * 200})).status_code == 202


async def test_idempotency_key_replays_a_bounce_too(harness):
    key = {"Idempotency-Key": "k-2"}
    first = await harness.send(headers=key, to=address_of(CLOSED_PATIENT))
    harness.resolver.down = True  # a replay needs no one else
    again = await harness.send(headers=key, to=address_of(CLOSED_PATIENT))
    assert again.json() == first.json()
    assert len(await harness.events(MessageBounced.SUBJECT)) == 1


async def test_internal_token_is_required(harness):
    r = await harness.client.post(
        "/internal/messages", json={}, headers={"X-Internal-Token": "wrong"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "internal_credential_required")


async def test_a_profile_change_told_by_the_gateway_is_heard_at_once(harness):
    """The gateway that changed a profile says so before answering: the next message asks
    identity again instead of trusting a kept answer."""
    r = await harness.client.post(f"/internal/patients/{PATIENT}/profile-changed")
    assert r.status_code == 204
    assert harness.resolver.forgotten == [address_of(PATIENT)]
    bad = await harness.client.post("/internal/patients/123/profile-changed")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_ins")


@pytest.mark.parametrize(
    ("sender", "sent_by", "allowed"),
    [
        (DOCTOR, "professional", True),
        (LAB, "application", True),
        (DOCTOR, "application", False),  # software does not write from a person's mailbox
        (LAB, "professional", False),  # nor a person from software's
        (LAB, None, True),  # the caller did not say: no rule
    ],
)
async def test_an_application_mailbox_is_for_application_tokens(harness, sender, sent_by, allowed):
    r = await harness.send(**{"from": sender, "sent_by": sent_by})
    if allowed:
        assert r.status_code == 202, r.text
    else:
        assert (r.status_code, r.json()["code"]) == (403, "mailbox_type_not_allowed")
        assert await harness.events() == []
