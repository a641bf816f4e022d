"""Requests a careless or hostile client may send, through the public API with every service
running: each gets either what a correct request gets or a problem with a stable code."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from .conftest import Api, eventually

pytestmark = pytest.mark.e2e

INVALIDE = (
    "Le message que vous avez envoyé à l'adresse \"{a}\" n'a pas pu être distribué, "
    "car cette adresse Mon espace santé est invalidé."
)


def pro(api: Api) -> tuple[str, str]:
    address = f"pro.{uuid.uuid4().hex[:10]}@hopital-test.mssante.fr"
    return address, api.mailbox(address, "PER", "Dr Anne Leroy", rpps="10101234567")


def raw(api: Api, method: str, path: str, token: str, **kwargs: object) -> httpx.Response:
    """``path`` sent byte for byte (an http client would resolve its dot segments)."""
    url = httpx.URL(str(api.http.base_url)).copy_with(raw_path=path.encode())
    return api.http.request(method, url, headers=api.as_(token), **kwargs)  # type: ignore[arg-type]


def test_a_dot_id_is_not_found_on_every_route(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    sent = api.send(pro_token, **{"from": sender, "to": patient, "subject": "S", "body": "x"})
    assert sent.status_code == 202
    eventually(lambda: api.my_conversations(patient_token))
    for dot in ("%2E", "%2E%2E", "%2e"):
        cases = [
            ("GET", f"/v1/me/messages/{dot}", patient_token),
            ("POST", f"/v1/me/messages/{dot}/read", patient_token),
            ("GET", f"/v1/me/conversations/{dot}", patient_token),
            ("GET", f"/v1/me/conversations/{dot}/messages", patient_token),
            ("POST", f"/v1/me/conversations/{dot}/messages", patient_token),
            ("GET", f"/v1/mailboxes/{sender}/messages/{dot}", pro_token),
            ("GET", f"/v1/attachments/{dot}", pro_token),
        ]
        for method, path, token in cases:
            body = {"json": {"body": "x"}} if method == "POST" else {}
            r = raw(api, method, path, token, **body)
            assert r.status_code == 404, (path, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"].endswith("not_found"), (path, r.text)


def test_a_forged_cursor_gets_one_answer_on_every_listing(api: Api) -> None:
    _, patient_token = api.patient()
    sender, pro_token = pro(api)
    listings = [
        ("/v1/me/conversations", patient_token),
        ("/v1/me/conversations/c-1/messages", patient_token),
        (f"/v1/mailboxes/{sender}/messages", pro_token),
        (f"/v1/mailboxes/{sender}/conversations", pro_token),
    ]
    answers = set()
    # Forged, then longer than any issued cursor: under the documented limit (512), at it, over.
    for cursor in ("eyJ0IjogMX0", "A" * 501, "A" * 512, "A" * 513):
        for path, token in listings:
            r = api.http.get(path, headers=api.as_(token), params={"cursor": cursor})
            assert r.status_code == 422, (path, len(cursor), r.text)
            problem = r.json()
            answers.add((problem["code"], problem["title"], problem["detail"]))
    assert answers == {
        ("invalid_cursor", "Invalid cursor", "The cursor is not one this service issued.")
    }


def test_the_same_key_with_the_mailbox_in_upper_case_sends_once(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    key = str(uuid.uuid4())
    body = {"from": sender, "to": patient, "subject": "Une fois", "body": "Un seul envoi"}
    first = api.send(pro_token, idempotency_key=key, **body)
    again = api.send(pro_token, idempotency_key=key, **{**body, "from": sender.upper()})
    assert first.status_code == again.status_code == 202, again.text
    assert first.json() == again.json()
    conv = eventually(lambda: api.my_conversations(patient_token))[0]
    messages = api.http.get(
        f"/v1/me/conversations/{conv['id']}/messages", headers=api.as_(patient_token)
    ).json()["items"]
    assert len(messages) == 1
    # The mailbox spelled otherwise lists the same messages.
    assert [m["id"] for m in api.inbox(pro_token, sender.upper(), folder="sent")] == [
        first.json()["message_id"]
    ]


def test_a_string_is_no_boolean(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    opened = api.send(pro_token, **{"from": sender, "to": patient, "subject": "S", "body": "x"})
    for name, value in (("fin", "1"), ("read_receipt", "yes"), ("fin", 1)):
        r = api.send(
            pro_token, **{"from": sender, "to": patient, "subject": "S", "body": "y", name: value}
        )
        assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    conv_id = opened.json()["conversation_id"]
    eventually(lambda: api.my_conversations(patient_token))
    reply = api.http.post(
        f"/v1/me/conversations/{conv_id}/messages",
        headers=api.as_(patient_token),
        json={"body": "Toujours ouverte"},
    )
    assert reply.status_code == 202, reply.text


def test_a_recipient_must_be_written_as_an_address(api: Api) -> None:
    sender, pro_token = pro(api)
    for to in (
        "<img src=x onerror=alert(1)>\r\nBcc: victim@evil.example\r\n\r\nX@patient.mssante.fr",
        "279035121518989 @patient.mssante.fr",
        "279035121518989",
    ):
        r = api.send(pro_token, **{"from": sender, "to": to, "subject": "S", "body": "x"})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "invalid_recipient"
    assert api.inbox(pro_token, sender, folder="sent") == []
    # Well formed, wrong INS: the French report, as before.
    to = "12345@patient.mssante.fr"
    r = api.send(pro_token, **{"from": sender, "to": to, "subject": "S", "body": "x"})
    assert r.status_code == 202 and r.json()["bounce_reason"] == "invalid"
    assert r.json()["report_text"] == INVALIDE.format(a=to)


def test_a_recipient_is_trimmed(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    r = api.send(pro_token, **{"from": sender, "to": f"  {patient}\t", "subject": "S", "body": "x"})
    assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
    assert (
        eventually(lambda: api.my_conversations(patient_token))[0]["id"]
        == (r.json()["conversation_id"])
    )


def test_a_body_with_a_nul_is_refused_before_anything_is_recorded(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    r = api.send(pro_token, **{"from": sender, "to": patient, "subject": "S", "body": "a\x00b"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_body", r.text
    opened = api.send(
        pro_token, **{"from": sender, "to": patient, "subject": "S", "body": "l1\r\n\tl2"}
    )
    assert opened.status_code == 202
    conv_id = opened.json()["conversation_id"]
    eventually(lambda: api.my_conversations(patient_token))
    h = api.as_(patient_token)
    r = api.http.post(f"/v1/me/conversations/{conv_id}/messages", headers=h, json={"body": "\x00"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_body"
    message = api.http.get(f"/v1/me/messages/{opened.json()['message_id']}", headers=h)
    assert message.json()["body"] == "l1\r\n\tl2"


def test_the_mssante_fin_header_closes_the_conversation(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    opened = api.send(pro_token, **{"from": sender, "to": patient, "subject": "S", "body": "x"})
    conv_id = opened.json()["conversation_id"]
    body = {"from": sender, "to": patient, "subject": "Au revoir", "body": "Bonne journée"}
    refused = api.http.post(
        "/v1/messages", headers={**api.as_(pro_token), "X-MSS-MES": "END"}, json=body
    )
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_mss_mes"
    closing = api.http.post(
        "/v1/messages", headers={**api.as_(pro_token), "X-MSS-MES": "fin"}, json=body
    )
    assert closing.status_code == 202, closing.text
    assert closing.json()["conversation_id"] == conv_id
    h = api.as_(patient_token)
    conv = api.http.get(f"/v1/me/conversations/{conv_id}", headers=h).json()
    assert conv["state"] == "closed" and conv["reply_allowed"] is False
    assert conv["closed_notice"] == "Dr Anne Leroy a mis fin à vos échanges."
    r = api.http.post(f"/v1/me/conversations/{conv_id}/messages", headers=h, json={"body": "?"})
    assert r.status_code == 409 and r.json()["code"] == "conversation_closed"


def test_a_long_body_in_ascii_escaped_json_is_delivered_whole(api: Api) -> None:
    patient, patient_token = api.patient()
    sender, pro_token = pro(api)
    text = "é" * 199_999 + "\U0001f600"
    content = json.dumps({"from": sender, "to": patient, "subject": "Long", "body": text})
    assert len(content) > 1_048_576  # Python's default writes \u00e9 for each é
    r = api.http.post(
        "/v1/messages",
        headers={**api.as_(pro_token), "Content-Type": "application/json"},
        content=content.encode(),
    )
    assert r.status_code == 202, r.text[:300]
    message = api.delivered(patient_token, r.json()["message_id"])
    assert message["body"] == text


def _form(disposition: str, data: bytes = b"hello") -> tuple[dict[str, str], bytes]:
    body = (
        f"--XbndX\r\nContent-Disposition: form-data; {disposition}\r\n"
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + data
    return {"Content-Type": "multipart/form-data; boundary=XbndX"}, body + b"\r\n--XbndX--\r\n"


def test_uploads_say_what_to_change_and_keep_the_name(api: Api) -> None:
    _, pro_token = pro(api)
    _, patient_token = api.patient()
    for route, token in (("/v1/attachments", pro_token), ("/v1/me/attachments", patient_token)):
        h = api.as_(token)
        for disposition, code in (
            ('name="file"', "file_part_not_a_file"),
            ("name=\"file\"; filename*=UTF-8''r%C3%A9sultat.txt", "file_part_not_a_file"),
        ):
            headers, body = _form(disposition)
            r = api.http.post(route, headers={**h, **headers}, content=body)
            assert r.status_code == 422 and r.json()["code"] == code, r.text
            assert "UploadFile" not in r.text
        two = api.http.post(
            route,
            headers=h,
            files=[("file", ("a.txt", b"one", "text/plain")), ("file", ("b.txt", b"two", "x"))],
        )
        assert two.status_code == 422 and two.json()["code"] == "one_file_per_upload"
        headers, body = _form('name="file"; filename="rapport \\"final\\".txt"')
        r = api.http.post(route, headers={**h, **headers}, content=body)
        assert r.status_code == 201, r.text
        assert r.json()["filename"] == 'rapport "final".txt'
