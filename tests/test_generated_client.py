"""An editor's Python client, generated from ``gateway/openapi.json`` by openapi-python-client,
plays the README's walkthrough against the running stack, without one hand-written request:
tokens, a profile and a mailbox, an upload, a send with a read receipt and an Idempotency-Key,
the patient's lists, opening, the download byte for byte, the reply, ``[FIN]``, the 409 read as
a typed problem, and a bounce with its French report; then the patient's documents, a
pharmacy found and sent a prescription, and the notification centre."""

from __future__ import annotations

import importlib
import random
import string
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mes_pharmacy_directory.domain.finess import luhn_digit

from .conftest import eventually, new_ins
from .stack import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mes_messagerie_client"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client, generated the way an editor does, importable for this module's tests."""
    out = tmp_path_factory.mktemp("client") / PACKAGE
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(ROOT / "gateway" / "openapi.json"),
            "--config",
            str(ROOT / "tools" / "openapi" / "openapi-python-client.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout, run.stdout
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out.parent))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _m(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_walkthrough_through_the_generated_client_alone(
    generated: ModuleType, stack: Stack
) -> None:
    models = _m("models")
    types = _m("types")
    dev = _m("api.development.issue_dev_token")
    admin = _m("api.admin.put_patient_profile")
    directory = _m("api.directory.register_mailbox")
    upload = _m("api.attachments.upload_attachment")
    download = _m("api.attachments.download_attachment")
    send = _m("api.messaging.send_message")
    inbox = _m("api.messaging.list_mailbox_messages")
    open_pro = _m("api.messaging.open_mailbox_message")
    my_conversations = _m("api.patient.list_my_conversations")
    my_messages = _m("api.patient.list_my_conversation_messages")
    open_mine = _m("api.patient.open_my_message")
    reply = _m("api.patient.reply_in_conversation")

    anonymous = generated.Client(base_url=stack.url, raise_on_unexpected_status=True)

    def as_(role: Any, **claims: Any) -> Any:
        answer = dev.sync(client=anonymous, body=models.DevTokenRequest(role=role, **claims))
        assert isinstance(answer, models.DevToken), answer
        return generated.AuthenticatedClient(
            base_url=stack.url, token=answer.access_token, raise_on_unexpected_status=True
        )

    ops = as_(models.Role.OPS)
    ins = new_ins()
    patient_address = f"{ins}@patient.mssante.fr"
    profile = admin.sync_detailed(
        ins,
        client=ops,
        body=models.PatientUpsert(
            state=models.PatientState.ACTIVATED,
            birth_name="DUPONT",
            first_names="Marie",
            email=f"p{ins}@example.org",
            app_installed=True,
        ),
    )
    assert profile.status_code == 201 and profile.parsed.state is models.PatientState.ACTIVATED
    dr = f"claire.{uuid.uuid4().hex[:8]}@hopital-exemple.mssante.fr"
    entry = directory.sync_detailed(
        dr,
        client=ops,
        body=models.DirectoryEntryIn(
            type_=models.MailboxType.PER, display_name="Dr Claire Martin", rpps="10101234567"
        ),
    )
    assert entry.status_code == 201 and entry.parsed.type_ is models.MailboxType.PER
    doctor = as_(models.Role.PROFESSIONAL, mailboxes=[dr], name="Dr Claire Martin")
    patient = as_(models.Role.PATIENT, ins=ins)

    # An upload through the generated multipart form.
    stored = upload.sync(
        client=doctor,
        body=models.UploadAttachmentForm(
            file=types.File(payload=PDF, file_name="résultats.pdf", mime_type="application/pdf")
        ),
        idempotency_key=f"upload-{ins}",
    )
    assert isinstance(stored, models.AttachmentOut), stored
    assert stored.size == len(PDF) and stored.content_type == "application/pdf"

    # 1. The physician writes, with a read receipt; the same key again sends nothing more.
    message = models.MessageSendIn(
        from_=dr,
        to=patient_address,
        subject="Résultats",
        body="Tout est normal.",
        read_receipt=True,
        attachment_ids=[stored.id],
    )
    sent = send.sync_detailed(client=doctor, body=message, idempotency_key=f"send-{ins}")
    assert sent.status_code == 202 and sent.parsed.status is models.MessageStatus.ACCEPTED
    again = send.sync(client=doctor, body=message, idempotency_key=f"send-{ins}")
    assert again.message_id == sent.parsed.message_id
    conversation_id = sent.parsed.conversation_id

    # 2. The patient sees the conversation, its message, opens it, downloads the file.
    def listed() -> Any:
        page = my_conversations.sync(client=patient)
        return next((c for c in page.items if c.id == conversation_id), None)

    conversation = eventually(listed)
    assert conversation.state is models.ConversationState.OPEN
    assert conversation.unread_count == 1 and conversation.reply_allowed
    page = my_messages.sync(conversation_id, client=patient)
    assert [m.id for m in page.items] == [sent.parsed.message_id]
    assert page.items[0].kind is models.MessageKind.MESSAGE
    opened = open_mine.sync(sent.parsed.message_id, client=patient)
    assert isinstance(opened, models.MessageDetail) and opened.read_receipt_requested
    assert opened.body == "Tout est normal." and opened.read_at
    fetched = download.sync(stored.id, client=patient)
    assert fetched.payload.read() == PDF

    # The patient replies; the physician's inbox holds the reply and the read receipt.
    answered = reply.sync_detailed(
        conversation_id,
        client=patient,
        body=models.PatientMessageIn(body="Merci docteur"),
        idempotency_key=f"reply-{ins}",
    )
    assert answered.status_code == 202

    def both() -> Any:
        items = inbox.sync(dr, client=doctor, folder=models.Folder.INBOX).items
        kinds = {m.kind for m in items}
        wanted = {models.MessageKind.MESSAGE, models.MessageKind.READ_RECEIPT}
        return items if wanted <= kinds else None

    items = eventually(both)
    the_reply = next(m for m in items if m.kind is models.MessageKind.MESSAGE)
    assert open_pro.sync(dr, the_reply.id, client=doctor).body == "Merci docteur"

    # 3. [FIN] closes; the patient's reply is then a typed 409.
    fin = send.sync_detailed(
        client=doctor,
        body=models.MessageSendIn(from_=dr, to=patient_address, subject="[FIN]", body="Au revoir"),
    )
    assert fin.status_code == 202

    def closed() -> Any:
        refused = reply.sync_detailed(
            conversation_id, client=patient, body=models.PatientMessageIn(body="Encore ?")
        )
        return refused if refused.status_code == 409 else None

    refused = eventually(closed)
    problem = refused.parsed
    assert isinstance(problem, models.ReplyInConversationProblem)
    assert problem.code is models.ReplyInConversationProblemCode.CONVERSATION_CLOSED
    assert problem.closed_by == dr and problem.close_reason == "fin"
    assert problem.detail == "Dr Claire Martin a mis fin à vos échanges."
    assert refused.headers["x-request-id"] == problem.request_id

    # 4. An invalid INS bounces, with the exact French report, into the sender's inbox.
    bad = f"{ins[:-2]}{(int(ins[-2:]) % 97) + 1:02d}@patient.mssante.fr"
    bounced = send.sync(
        client=doctor,
        body=models.MessageSendIn(from_=dr, to=bad, subject="Bilan", body="..."),
    )
    assert bounced.status is models.MessageStatus.BOUNCED
    assert bounced.bounce_reason is models.NonDeliveryReason.INVALID
    assert bounced.report_text == (
        f"Le message que vous avez envoyé à l'adresse \"{bad}\" n'a pas pu être distribué, "
        "car cette adresse Mon espace santé est invalidé."
    )
    eventually(
        lambda: next(
            (
                m
                for m in inbox.sync(dr, client=doctor).items
                if m.kind is models.MessageKind.NON_DELIVERY
            ),
            None,
        )
    )


def test_problems_come_back_typed_with_the_operations_codes(
    generated: ModuleType, stack: Stack
) -> None:
    models = _m("models")
    send = _m("api.messaging.send_message")
    inbox = _m("api.messaging.list_mailbox_messages")
    dev = _m("api.development.issue_dev_token")
    anonymous = generated.Client(base_url=stack.url)
    token = dev.sync(
        client=anonymous,
        body=models.DevTokenRequest(
            role=models.Role.PROFESSIONAL, mailboxes=["a@hopital-exemple.mssante.fr"]
        ),
    ).access_token
    doctor = generated.AuthenticatedClient(base_url=stack.url, token=token)

    other = inbox.sync_detailed("b@hopital-exemple.mssante.fr", client=doctor)
    assert other.status_code == 403
    assert other.parsed.code is models.ListMailboxMessagesProblemCode.MAILBOX_NOT_GRANTED
    assert other.parsed.address == "b@hopital-exemple.mssante.fr"
    cursor = inbox.sync_detailed("a@hopital-exemple.mssante.fr", client=doctor, cursor="forged")
    assert cursor.parsed.code is models.ListMailboxMessagesProblemCode.INVALID_CURSOR

    unregistered = send.sync_detailed(
        client=doctor,
        body=models.MessageSendIn(
            from_="a@hopital-exemple.mssante.fr",
            to=f"{new_ins()}@patient.mssante.fr",
            subject="s",
            body="b",
        ),
    )
    assert unregistered.status_code == 422
    assert unregistered.parsed.code is models.SendMessageProblemCode.SENDER_NOT_REGISTERED

    anonymous_send = send.sync_detailed(
        client=generated.AuthenticatedClient(base_url=stack.url, token="x"),
        body=models.MessageSendIn(from_="a@x.mssante.fr", to="y", subject="s", body="b"),
    )
    assert anonymous_send.status_code == 401
    assert anonymous_send.parsed.code is models.SendMessageProblemCode.INVALID_TOKEN
    assert anonymous_send.headers["www-authenticate"].startswith("Bearer")


def test_a_patient_writes_to_a_pharmacy_through_the_generated_client(
    generated: ModuleType, stack: Stack
) -> None:
    models = _m("models")
    dev = _m("api.development.issue_dev_token")
    admin = _m("api.admin.put_patient_profile")
    resolve = _m("api.admin.resolve_address")
    directory = _m("api.directory.register_mailbox")
    entry = _m("api.directory.get_directory_entry")
    profile = _m("api.patient.get_my_profile")
    start = _m("api.patient.start_conversation")
    contacts = _m("api.patient.list_my_contacts")
    conversation = _m("api.patient.get_my_conversation")
    upload_mine = _m("api.attachments.upload_my_attachment")
    types = _m("types")
    anonymous = generated.Client(base_url=stack.url, raise_on_unexpected_status=True)

    def as_(role: Any, **claims: Any) -> Any:
        token = dev.sync(client=anonymous, body=models.DevTokenRequest(role=role, **claims))
        return generated.AuthenticatedClient(base_url=stack.url, token=token.access_token)

    ops = as_(models.Role.OPS)
    ins = new_ins()
    admin.sync(
        ins,
        client=ops,
        body=models.PatientUpsert(
            state=models.PatientState.ACTIVATED,
            birth_name="DURAND",
            first_names="Paul",
            email=f"p{ins}@example.org",
        ),
    )
    where = resolve.sync(f"{ins}@patient.mssante.fr", client=ops)
    assert where.status is models.AddressResolutionStatus.DELIVERABLE
    pharmacy = f"officine.{uuid.uuid4().hex[:8]}@pharmacie-exemple.mssante.fr"
    directory.sync(
        pharmacy,
        client=ops,
        body=models.DirectoryEntryIn(
            type_=models.MailboxType.ORG,
            display_name="Pharmacie du Marché",
            finess="750012345",
            pharmacy=True,
        ),
    )
    assert entry.sync(pharmacy, client=ops).pharmacy is True
    patient = as_(models.Role.PATIENT, ins=ins)
    me = profile.sync(client=patient)
    assert me.ins == ins and me.state is models.PatientState.ACTIVATED

    prescription = upload_mine.sync(
        client=patient,
        body=models.UploadMyAttachmentForm(
            file=types.File(payload=b"Ordonnance\n", file_name="ordonnance.txt")
        ),
    )
    assert isinstance(prescription, models.AttachmentOut), prescription
    started = start.sync_detailed(
        client=patient,
        body=models.PatientNewConversationIn(
            to=pharmacy,
            subject="Ordonnance",
            body="Bonjour, voici mon ordonnance.",
            attachment_ids=[prescription.id],
        ),
        idempotency_key=f"start-{ins}",
    )
    assert started.status_code == 201, started.content
    conversation_id = started.parsed.conversation_id
    mine = conversation.sync(conversation_id, client=patient)
    assert mine.correspondent.kind is models.PartyKind.PHARMACY
    listed = eventually(
        lambda: next(
            (c for c in contacts.sync(client=patient).items if c.address == pharmacy), None
        )
    )
    assert listed.conversation_id == conversation_id

    # A professional who never wrote: a typed 403 with the operation's code and its reason.
    stranger = start.sync_detailed(
        client=patient,
        body=models.PatientNewConversationIn(
            to="dr.inconnu@hopital-exemple.mssante.fr", subject="Bonjour", body="Bonjour"
        ),
    )
    assert stranger.status_code == 403
    assert stranger.parsed.code is models.StartConversationProblemCode.INITIATION_NOT_ALLOWED
    assert stranger.parsed.reason


def test_documents_a_pharmacy_request_and_notifications_through_the_generated_client(
    generated: ModuleType, stack: Stack
) -> None:
    """The patient keeps a prescription in the documents, finds a pharmacy imported by
    operations, sends it the prescription, and the app's notification centre announces the
    pharmacy's answer: every call through the generated client."""
    models = _m("models")
    types = _m("types")
    dev = _m("api.development.issue_dev_token")
    admin = _m("api.admin.put_patient_profile")
    directory = _m("api.directory.register_mailbox")
    import_pharmacies = _m("api.pharmacy_admin.import_pharmacies")
    add_document = _m("api.documents.add_my_document")
    list_documents = _m("api.documents.list_my_documents")
    download_document = _m("api.documents.download_my_document")
    search = _m("api.pharmacies.search_pharmacies")
    template = _m("api.pharmacies.get_pharmacy_message_template")
    send_request = _m("api.pharmacies.send_pharmacy_request")
    inbox = _m("api.messaging.list_mailbox_messages")
    download = _m("api.attachments.download_attachment")
    send = _m("api.messaging.send_message")
    notifications = _m("api.notifications.list_my_notifications")
    anonymous = generated.Client(base_url=stack.url, raise_on_unexpected_status=True)

    def as_(role: Any, **claims: Any) -> Any:
        token = dev.sync(client=anonymous, body=models.DevTokenRequest(role=role, **claims))
        return generated.AuthenticatedClient(
            base_url=stack.url, token=token.access_token, raise_on_unexpected_status=True
        )

    ops = as_(models.Role.OPS)
    ins = new_ins()
    admin.sync(
        ins,
        client=ops,
        body=models.PatientUpsert(
            state=models.PatientState.ACTIVATED,
            birth_name="BERNARD",
            first_names="Léa",
            email=f"p{ins}@example.org",
            app_installed=True,
        ),
    )
    word = "".join(random.choices(string.ascii_lowercase, k=10))
    payload = f"75{random.randrange(10**6):06d}"
    finess = payload + str(luhn_digit(payload))
    imported = import_pharmacies.sync(
        client=ops,
        body=models.PharmacyBatchIn(
            run=f"client-{word}",
            pharmacies=[
                models.PharmacyRecordIn(
                    finess=finess,
                    name=f"Pharmacie {word.title()}",
                    postal_code="75004",
                    city="PARIS",
                    lat=48.8566,
                    lon=2.3522,
                )
            ],
        ),
    )
    assert isinstance(imported, models.PharmacyBatchOut), imported
    mailbox = f"officine.{word}@pharmacie-exemple.mssante.fr"
    registered = directory.sync_detailed(
        mailbox,
        client=ops,
        body=models.DirectoryEntryIn(
            type_=models.MailboxType.ORG,
            display_name=f"Pharmacie {word.title()}",
            finess=finess,
            pharmacy=True,
            alert_email=f"alertes@{word}.example",
        ),
    )
    assert registered.status_code == 201, registered.content
    assert registered.parsed.alert_email == f"alertes@{word}.example"
    refused = directory.sync_detailed(
        mailbox,
        client=ops,
        body=models.DirectoryEntryIn(
            type_=models.MailboxType.ORG,
            display_name="Pharmacie",
            finess=finess,
            pharmacy=True,
            alert_email="pas une adresse",
        ),
    )
    assert refused.status_code == 422
    assert refused.parsed.code is models.RegisterMailboxProblemCode.INVALID_ALERT_EMAIL
    patient = as_(models.Role.PATIENT, ins=ins)
    pharmacist = as_(models.Role.PROFESSIONAL, mailboxes=[mailbox], name="Pharmacie")

    # The prescription enters the patient's documents, is listed, and comes back intact.
    added = add_document.sync_detailed(
        client=patient,
        body=models.AddMyDocumentForm(
            file=types.File(payload=PDF, file_name="ordonnance.pdf", mime_type="application/pdf")
        ),
        idempotency_key=f"document-{ins}",
    )
    assert added.status_code == 201, added.content
    document = added.parsed
    assert isinstance(document, models.Document), document
    assert document.size == len(PDF) and document.content_type == "application/pdf"
    listed = list_documents.sync(client=patient)
    assert [d.id for d in listed.items] == [document.id]
    assert listed.items[0].filename == "ordonnance.pdf"
    assert download_document.sync(document.id, client=patient).payload.read() == PDF
    missing = download_document.sync_detailed("absent", client=patient)
    assert missing.status_code == 404
    assert missing.parsed.code is models.DownloadMyDocumentProblemCode.DOCUMENT_NOT_FOUND

    # The pharmacy is found by a word of its name, and the prescription sent to it.
    found = eventually(lambda: next((p for p in search.sync(client=patient, q=word).items), None))
    assert found.finess == finess and found.can_write
    text = template.sync(client=patient)
    sent = send_request.sync_detailed(
        client=patient,
        body=models.PharmacyRequestIn(pharmacy=finess, document_ids=[document.id]),
        idempotency_key=f"pharmacy-{ins}",
    )
    assert sent.status_code == 201, sent.content
    request = sent.parsed
    assert request.pharmacy == finess and request.mailbox == mailbox
    assert request.status is models.MessageStatus.ACCEPTED
    (copy,) = request.attachments

    def received() -> Any:
        items = inbox.sync(mailbox, client=pharmacist).items
        return next((m for m in items if m.id == request.message_id), None)

    eventually(received)
    assert download.sync(copy.id, client=pharmacist).payload.read() == PDF

    # The pharmacy answers; the patient's app shows that a message waits, not what it says.
    answer = send.sync(
        client=pharmacist,
        body=models.MessageSendIn(
            from_=mailbox,
            to=f"{ins}@patient.mssante.fr",
            subject="Votre commande",
            body="Vos médicaments sont prêts.",
            in_reply_to=request.message_id,
        ),
    )
    assert answer.status is models.MessageStatus.ACCEPTED

    def announced() -> Any:
        page = notifications.sync(client=patient)
        return page if page.unseen == 1 else None

    page = eventually(announced, timeout=20)
    (entry,) = page.items
    assert entry.message_id == answer.message_id
    assert "prêts" not in entry.body and text.body not in entry.body
