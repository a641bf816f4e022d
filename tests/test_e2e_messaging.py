"""Professional ↔ patient messaging through the public API, with every service running."""

from __future__ import annotations

import uuid

import pytest

from .conftest import Api, eventually, new_ins
from .stack import Stack

pytestmark = pytest.mark.e2e

NDR = {
    "not_found": "Le message que vous avez envoyé à l'adresse \"{a}\" n'a pas pu être distribué, "
    "car cette adresse Mon espace santé n'existe pas.",
    "closed": "Le message que vous avez envoyé à l'adresse \"{a}\" n'a pas pu être distribué, "
    "car la messagerie Mon espace santé de votre destinataire est clôturée.",
    "invalid": "Le message que vous avez envoyé à l'adresse \"{a}\" n'a pas pu être distribué, "
    "car cette adresse Mon espace santé est invalidé.",
}


def pro(api: Api, name: str = "Dr Claire Martin") -> tuple[str, str]:
    address = f"pro.{uuid.uuid4().hex[:10]}@hopital-test.mssante.fr"
    return address, api.mailbox(address, "PER", name, rpps="10101234567")


def test_professional_writes_patient_reads_and_replies(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    r = api.send(
        pro_token,
        **{
            "from": sender,
            "to": patient,
            "subject": "Résultats",
            "body": "Vos résultats sont normaux.",
            "read_receipt": True,
        },
    )
    assert r.status_code == 202, r.text
    sent = r.json()
    assert sent["status"] == "accepted"

    conversations = eventually(
        lambda: [c for c in api.my_conversations(patient_token) if c["unread_count"] == 1]
    )
    (conv,) = conversations
    assert conv["id"] == sent["conversation_id"]
    assert conv["correspondent"]["address"] == sender
    assert conv["correspondent"]["display_name"] == "Dr Claire Martin"
    assert conv["state"] == "open" and conv["reply_allowed"] is True

    h = api.as_(patient_token)
    # Listing the conversation's messages marks nothing; opening the message reads it.
    listed = api.http.get(f"/v1/me/conversations/{conv['id']}/messages", headers=h)
    assert [m["read"] for m in listed.json()["items"]] == [False]
    message = api.http.get(f"/v1/me/messages/{sent['message_id']}", headers=h)
    assert message.status_code == 200
    assert message.json()["body"] == "Vos résultats sont normaux."
    assert message.json()["read"] is True
    assert api.my_conversations(patient_token)[0]["unread_count"] == 0

    # The read receipt reaches the professional's inbox, once.
    receipts = eventually(
        lambda: [m for m in api.inbox(pro_token, sender) if m["kind"] == "read_receipt"]
    )
    again = api.http.get(f"/v1/me/messages/{sent['message_id']}", headers=h)
    assert again.json()["read_at"] == message.json()["read_at"]
    read = api.http.post(f"/v1/me/messages/{sent['message_id']}/read", headers=h)
    assert read.status_code == 200 and read.json()["read_at"] == message.json()["read_at"]
    assert len([m for m in api.inbox(pro_token, sender) if m["kind"] == "read_receipt"]) == 1
    assert receipts[0]["subject"].endswith("Résultats")

    reply = api.http.post(
        f"/v1/me/conversations/{conv['id']}/messages", headers=h, json={"body": "Merci docteur."}
    )
    assert reply.status_code == 202, reply.text
    got = eventually(lambda: [m for m in api.inbox(pro_token, sender) if m["kind"] == "message"])
    assert got[0]["conversation_id"] == conv["id"]
    assert got[0]["sender"]["address"] == patient

    # The professional opens the reply, then the read receipt: each is read once opened, and
    # the conversation's unread count goes down with them.
    ph = api.as_(pro_token)

    def pro_unread() -> int:
        listed = api.http.get(f"/v1/mailboxes/{sender}/conversations", headers=ph).json()
        (item,) = [c for c in listed["items"] if c["id"] == conv["id"]]
        return int(item["unread_count"])

    assert pro_unread() == 2
    opened = api.http.get(f"/v1/mailboxes/{sender}/messages/{got[0]['id']}", headers=ph)
    assert opened.status_code == 200 and opened.json()["read"] is True
    assert opened.json()["body"] == "Merci docteur."
    assert pro_unread() == 1
    receipt = api.http.get(f"/v1/mailboxes/{sender}/messages/{receipts[0]['id']}", headers=ph)
    assert receipt.json()["kind"] == "read_receipt" and receipt.json()["read"] is True
    assert pro_unread() == 0
    again = api.http.post(f"/v1/mailboxes/{sender}/messages/{got[0]['id']}/read", headers=ph)
    assert again.status_code == 200 and again.json()["read_at"] == opened.json()["read_at"]


def test_fin_closes_and_patient_can_no_longer_reply(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api, "Dr Paul Durand")
    first = api.send(
        pro_token,
        **{"from": sender, "to": patient, "subject": "Suivi", "body": "Comment allez-vous ?"},
    ).json()
    for not_fin in ("[fin]", "[FIN] merci", " [FIN]"):
        r = api.send(
            pro_token,
            **{
                "from": sender,
                "to": patient,
                "subject": not_fin,
                "body": "x",
                "in_reply_to": first["message_id"],
            },
        )
        assert r.json()["conversation_id"] == first["conversation_id"]
    closing = api.send(
        pro_token,
        **{"from": sender, "to": patient, "subject": "[FIN]", "body": "Bonne continuation."},
    ).json()
    assert closing["conversation_id"] == first["conversation_id"]

    h = api.as_(patient_token)
    conv = api.http.get(f"/v1/me/conversations/{first['conversation_id']}", headers=h).json()
    assert conv["state"] == "closed" and conv["reply_allowed"] is False
    assert conv["closed_notice"] == "Dr Paul Durand a mis fin à vos échanges."
    r = api.http.post(
        f"/v1/me/conversations/{first['conversation_id']}/messages",
        headers=h,
        json={"body": "Encore une question"},
    )
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "conversation_closed"
    # The patient may not open a new conversation with them either...
    r = api.http.post(
        "/v1/me/conversations", headers=h, json={"to": sender, "subject": "Question", "body": "?"}
    )
    assert r.status_code == 403 and r.json()["code"] == "initiation_not_allowed"
    # ...but a later message from the professional opens a new exchange.
    again = api.send(
        pro_token, **{"from": sender, "to": patient, "subject": "Nouveau", "body": "Reprenons."}
    ).json()
    assert again["conversation_id"] != first["conversation_id"]


def test_a_closed_profile_is_offered_no_reply(api: Api) -> None:
    """Once the patient closes their profile, every reply is refused: no open conversation
    may still show one as allowed."""
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    sent = api.send(pro_token, **{"from": sender, "to": patient, "subject": "Bilan", "body": "."})
    assert sent.status_code == 202, sent.text
    (conv,) = eventually(lambda: api.my_conversations(patient_token))
    assert conv["reply_allowed"] is True
    closed = api.set_state(patient, "closed")
    assert closed.status_code == 200, closed.text
    (conv,) = eventually(
        lambda: [c for c in api.my_conversations(patient_token) if not c["reply_allowed"]]
    )
    assert conv["state"] == "open"
    h = api.as_(patient_token)
    one = api.http.get(f"/v1/me/conversations/{conv['id']}", headers=h).json()
    assert one["reply_allowed"] is False
    reply = api.http.post(
        f"/v1/me/conversations/{conv['id']}/messages", headers=h, json={"body": "Merci"}
    )
    assert reply.status_code == 403 and reply.json()["code"] == "patient_profile_inactive"


@pytest.mark.parametrize(("state", "reason"), [("opposed", "not_found"), ("closed", "closed")])
def test_a_profile_changed_after_a_message_bounces_the_very_next_one(
    api: Api, state: str, reason: str
) -> None:
    """The answer of the change comes after every conversation process has heard of it: no
    message sent after it meets the old state, and the patient is offered no reply at once."""
    for _ in range(3):
        patient, patient_token = api.patient()
        sender, pro_token = pro(api)
        first = api.send(pro_token, **{"from": sender, "to": patient, "subject": "A", "body": "."})
        assert first.json()["status"] == "accepted", first.text
        changed = api.set_state(patient, state)
        assert changed.status_code == 200, changed.text
        next_ = api.send(pro_token, **{"from": sender, "to": patient, "subject": "B", "body": "."})
        assert (next_.json()["status"], next_.json()["bounce_reason"]) == ("bounced", reason)
        if state == "closed":
            conv = api.http.get(
                f"/v1/me/conversations/{first.json()['conversation_id']}",
                headers=api.as_(patient_token),
            ).json()
            assert conv["reply_allowed"] is False


@pytest.mark.parametrize(
    ("state", "reason"), [("opposed", "not_found"), ("closed", "closed"), (None, "not_found")]
)
def test_non_delivery_reports(api: Api, state: str | None, reason: str) -> None:
    if state is None:
        to = f"{new_ins()}@patient.mssante.fr"  # valid INS, no profile
    else:
        to, _ = api.patient(state=state)
    sender, pro_token = pro(api)
    r = api.send(pro_token, **{"from": sender, "to": to, "subject": "Bilan", "body": "..."})
    assert r.status_code == 202
    assert r.json()["status"] == "bounced" and r.json()["bounce_reason"] == reason
    report = eventually(
        lambda: [m for m in api.inbox(pro_token, sender) if m["kind"] == "non_delivery"]
    )[0]
    assert report["subject"] == "Message non distribué"
    body = api.http.get(
        f"/v1/mailboxes/{sender}/messages/{report['id']}", headers=api.as_(pro_token)
    ).json()["body"]
    assert NDR[reason].format(a=to) in body


@pytest.mark.parametrize("bad", ["279035121518988", "27903512151898", "2790351215189AB"])
def test_invalid_addresses_bounce_as_invalide(api: Api, bad: str) -> None:
    sender, pro_token = pro(api)
    to = f"{bad}@patient.mssante.fr"
    r = api.send(pro_token, **{"from": sender, "to": to, "subject": "Bilan", "body": "..."})
    assert r.status_code == 202 and r.json()["bounce_reason"] == "invalid"
    report = eventually(
        lambda: [m for m in api.inbox(pro_token, sender) if m["kind"] == "non_delivery"]
    )[0]
    body = api.http.get(
        f"/v1/mailboxes/{sender}/messages/{report['id']}", headers=api.as_(pro_token)
    ).json()["body"]
    assert NDR["invalid"].format(a=to) in body


def test_patients_never_see_each_other(api: Api) -> None:
    alice, alice_token = api.patient()
    _, bob_token = api.patient()
    sender, pro_token = pro(api)
    sent = api.send(
        pro_token, **{"from": sender, "to": alice, "subject": "Privé", "body": "Pour Alice"}
    ).json()
    eventually(lambda: api.my_conversations(alice_token))
    bob = api.as_(bob_token)
    for path in (
        f"/v1/me/conversations/{sent['conversation_id']}",
        f"/v1/me/conversations/{sent['conversation_id']}/messages",
        f"/v1/me/messages/{sent['message_id']}",
    ):
        assert api.http.get(path, headers=bob).status_code == 404, path
    r = api.http.post(
        f"/v1/me/conversations/{sent['conversation_id']}/messages",
        headers=bob,
        json={"body": "intrus"},
    )
    assert r.status_code == 404
    assert api.my_conversations(bob_token) == []
    # A professional reads only the mailboxes the token grants.
    other, _ = pro(api)
    r = api.http.get(f"/v1/mailboxes/{other}/messages", headers=api.as_(pro_token))
    assert r.status_code == 403 and r.json()["code"] == "mailbox_not_granted"
    r = api.send(pro_token, **{"from": other, "to": alice, "subject": "x", "body": "x"})
    assert r.status_code == 403


def test_an_application_mailbox_sends_for_software_only(api: Api) -> None:
    patient, _ = api.patient()
    lab = f"resultats.{uuid.uuid4().hex[:8]}@labo-test.mssante.fr"
    app_token = api.mailbox(lab, "APP", "Laboratoire Test", finess="750000001")
    person, _ = pro(api)
    body = {"to": patient, "subject": "Résultats", "body": "Disponibles."}
    assert api.send(app_token, **{"from": lab, **body}).json()["status"] == "accepted"
    for token, sender in (
        (api.token("professional", mailboxes=[lab]), lab),
        (api.token("application", mailboxes=[person]), person),
    ):
        r = api.send(token, **{"from": sender, **body})
        assert (r.status_code, r.json()["code"]) == (403, "mailbox_type_not_allowed"), r.text


def test_same_idempotency_key_never_sends_twice(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    body = {"from": sender, "to": patient, "subject": "Une fois", "body": "Un seul envoi"}
    key = str(uuid.uuid4())
    first = api.send(pro_token, idempotency_key=key, **body)
    second = api.send(pro_token, idempotency_key=key, **body)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    other = api.send(pro_token, idempotency_key=key, **{**body, "body": "autre"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    conv = eventually(lambda: api.my_conversations(patient_token))[0]
    msgs = api.http.get(
        f"/v1/me/conversations/{conv['id']}/messages", headers=api.as_(patient_token)
    ).json()["items"]
    assert len(msgs) == 1


def test_an_upload_retried_with_its_idempotency_key_is_stored_once(api: Api) -> None:
    _, patient_token = api.patient()
    _, pro_token = pro(api)
    for url, token in (("/v1/attachments", pro_token), ("/v1/me/attachments", patient_token)):
        key = {"Idempotency-Key": str(uuid.uuid4())}
        h = {**api.as_(token), **key}
        pdf = {"file": ("ordonnance.pdf", PDF, "application/pdf")}
        first = api.http.post(url, headers=h, files=pdf)
        again = api.http.post(url, headers=h, files=pdf)
        assert first.status_code == again.status_code == 201, first.text
        assert again.json() == first.json()
        other = api.http.post(url, headers=h, files={"file": ("photo.png", PNG, "image/png")})
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_patient_writes_to_a_pharmacy_even_after_its_fin(api: Api) -> None:
    patient, patient_token = api.patient()
    pharmacy = f"pharmacie.{uuid.uuid4().hex[:8]}@officine-test.mssante.fr"
    pharmacy_token = api.mailbox(
        pharmacy, "ORG", "Pharmacie du Marché", finess="750012345", pharmacy=True
    )
    h = api.as_(patient_token)
    r = api.http.post(
        "/v1/me/conversations",
        headers=h,
        json={"to": pharmacy, "subject": "Ordonnance", "body": "Voici"},
    )
    assert r.status_code == 201, r.text
    conv_id = r.json()["conversation_id"]
    fin = api.send(
        pharmacy_token,
        **{
            "from": pharmacy,
            "to": patient,
            "subject": "[FIN]",
            "body": "Prête.",
            "in_reply_to": r.json()["message_id"],
        },
    )
    assert fin.json()["conversation_id"] == conv_id
    assert (
        api.http.post(
            f"/v1/me/conversations/{conv_id}/messages", headers=h, json={"body": "merci"}
        ).status_code
        == 409
    )
    again = api.http.post(
        "/v1/me/conversations",
        headers=h,
        json={"to": pharmacy, "subject": "Nouvelle ordonnance", "body": "2"},
    )
    assert again.status_code == 201 and again.json()["conversation_id"] != conv_id

    # Not activated: no pharmacy; and nobody else may be contacted first.
    _, created_token = api.patient(state="created")
    r = api.http.post(
        "/v1/me/conversations",
        headers=api.as_(created_token),
        json={"to": pharmacy, "subject": "Ordonnance", "body": "Voici"},
    )
    assert r.status_code == 403
    stranger, _ = pro(api)
    r = api.http.post(
        "/v1/me/conversations", headers=h, json={"to": stranger, "subject": "Bonjour", "body": "?"}
    )
    assert r.status_code == 403 and r.json()["code"] == "initiation_not_allowed"


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_attachments_checked_by_content_and_private(api: Api) -> None:
    patient, patient_token = api.patient()
    _, other_token = api.patient()
    sender, pro_token = pro(api)
    h = api.as_(pro_token)
    up = api.http.post(
        "/v1/attachments", headers=h, files={"file": ("ordonnance.pdf", PDF, "application/pdf")}
    )
    assert up.status_code == 201, up.text
    att = up.json()
    assert att["content_type"] == "application/pdf" and att["size"] == len(PDF)
    for name, data in (("photo.pdf", PNG), ("virus.exe", b"MZ\x90\x00" + b"\x00" * 60)):
        r = api.http.post("/v1/attachments", headers=h, files={"file": (name, data, "x/y")})
        assert r.status_code == 415, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    sent = api.send(
        pro_token,
        **{
            "from": sender,
            "to": patient,
            "subject": "Ordonnance",
            "body": "Ci-joint",
            "attachment_ids": [att["id"]],
        },
    ).json()
    api.delivered(patient_token, sent["message_id"])
    got = api.http.get(f"/v1/attachments/{att['id']}", headers=api.as_(patient_token))
    assert got.status_code == 200 and got.content == PDF
    assert (
        api.http.get(f"/v1/attachments/{att['id']}", headers=api.as_(other_token)).status_code
        == 404
    )


def test_a_big_attachment_comes_back_whole_through_the_gateway(api: Api) -> None:
    """Several megabytes, past what the services' client reads at once: it comes back whole,
    twice, and the connections it went through serve the next request."""
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    big = PDF + bytes(i % 251 for i in range(3_000_000))
    up = api.http.post(
        "/v1/attachments",
        headers=api.as_(pro_token),
        files={"file": ("scanner.pdf", big, "application/pdf")},
    )
    assert up.status_code == 201, up.text
    att = up.json()
    assert att["size"] == len(big)
    sent = api.send(
        pro_token,
        **{
            "from": sender,
            "to": patient,
            "subject": "Scanner",
            "body": "Ci-joint",
            "attachment_ids": [att["id"]],
        },
    ).json()
    api.delivered(patient_token, sent["message_id"])
    for _ in range(2):
        got = api.http.get(f"/v1/attachments/{att['id']}", headers=api.as_(patient_token))
        assert got.status_code == 200 and got.content == big
    assert api.http.get("/v1/me/conversations", headers=api.as_(patient_token)).status_code == 200


def test_hostile_input_gets_problems_not_500(api: Api) -> None:
    patient, _ = api.patient()
    sender, pro_token = pro(api)
    cases = [
        {"from": sender, "to": patient, "subject": "a\r\nBcc: x@y.fr", "body": "x"},
        {"from": sender, "to": patient, "subject": "x", "body": "x", "unknown": 1},
        {"from": sender, "to": patient, "subject": 3, "body": ["x"]},
        {"from": sender, "to": "someone@gmail.com", "subject": "x", "body": "x"},
    ]
    for body in cases:
        r = api.send(pro_token, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = api.http.get(
        f"/v1/mailboxes/{sender}/messages", headers=api.as_(pro_token), params={"limit": 100000}
    )
    assert r.status_code == 422
    r = api.http.get(
        f"/v1/mailboxes/{sender}/messages",
        headers=api.as_(pro_token),
        params={"cursor": "not-a-cursor"},
    )
    assert r.status_code == 422


def test_the_patients_gateway_serves_the_same_api_apart(api: Api, stack: Stack) -> None:
    """The patients' apps reach their own gateway process: what a professional sends through
    the main gateway, the patient reads, marks read and answers through it."""
    patients_api = Api(stack.patient_url)
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    sent = api.send(pro_token, **{"from": sender, "to": patient, "subject": "A", "body": "B"})
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["message_id"]
    h = patients_api.as_(patient_token)
    seen = eventually(
        lambda: (
            (r := patients_api.http.get(f"/v1/me/messages/{message_id}", headers=h))
            and r.status_code == 200
            and r.json()
        )
    )
    assert seen["body"] == "B"
    read = patients_api.http.post(f"/v1/me/messages/{message_id}/read", headers=h)
    assert read.status_code == 200, read.text
    reply = patients_api.http.post(
        f"/v1/me/conversations/{sent.json()['conversation_id']}/messages",
        headers=h,
        json={"body": "Merci"},
    )
    assert reply.status_code == 202, reply.text
    got = eventually(lambda: [m for m in api.inbox(pro_token, sender) if m["kind"] == "message"])
    assert got[0]["sender"]["address"] == patient
    health = patients_api.http.get("/health").json()
    assert health["status"] == "ready"
    # The processes that run apart are reported too, delivery among them.
    assert {"conversation_reads", "mailbox_delivery"} <= set(health["services"])
