"""The relay over TLS: STARTTLS and implicit TLS against a real SMTP server (aiosmtpd) with a
certificate of a test CA, the login only once encrypted, and no e-mail sent to a relay whose
certificate does not check."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mes_dev.testing import free_port
from mes_notifier.adapters.smtp import SmtpTransport, relay_tls_context
from mes_notifier.domain.emails import OutgoingEmail
from mes_notifier.domain.errors import DeliveryDeferred
from mes_notifier.settings import NotifierSettings

USER, PASSWORD = "notifier", "s3cret-relay-password"


class Relay:
    """What the relay received, whether each e-mail came over TLS, and who logged in."""

    def __init__(self) -> None:
        self.received: list[tuple[Envelope, bool]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        over_tls = session.ssl is not None  # after STARTTLS
        if server.transport is not None:  # implicit TLS
            over_tls = over_tls or server.transport.get_extra_info("ssl_object") is not None
        self.received.append((envelope, over_tls))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def starttls_relay(ca: trustme.CA) -> Iterator[tuple[Relay, int]]:
    relay, port = Relay(), free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(ca),
        require_starttls=True,
        authenticator=relay.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield relay, port
    finally:
        controller.stop()


@pytest.fixture
def tls_relay(ca: trustme.CA) -> Iterator[tuple[Relay, int]]:
    relay, port = Relay(), free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        ssl_context=_server_context(ca),
        authenticator=relay.authenticate,
        # aiosmtpd offers AUTH only after its own STARTTLS: this whole connection is TLS.
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield relay, port
    finally:
        controller.stop()


def _email(n: int) -> OutgoingEmail:
    content = (
        f"From: ne-pas-repondre@messagerie.mssante.fr\r\nTo: marie@example.org\r\n"
        f"Message-ID: <tls-{n}@messagerie.mssante.fr>\r\nSubject: Nouveau message\r\n\r\n"
        "Un nouveau message vous attend.\r\n"
    ).encode()
    return OutgoingEmail(
        mail_from="ne-pas-repondre@messagerie.mssante.fr",
        rcpt_to="marie@example.org",
        message_id=f"<tls-{n}@messagerie.mssante.fr>",
        content=content,
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_e_mails_go_encrypted_after_a_login_over_tls(
    security: str,
    ca_file: Path,
    starttls_relay: tuple[Relay, int],
    tls_relay: tuple[Relay, int],
) -> None:
    relay, port = starttls_relay if security == "starttls" else tls_relay
    transport = SmtpTransport(
        "127.0.0.1",
        port,
        security=security,  # type: ignore[arg-type]
        username=USER,
        password=PASSWORD,
        tls_context=relay_tls_context(security, ca_file),  # type: ignore[arg-type]
    )
    try:
        await transport.send(_email(1))
        await transport.send(_email(2))  # on the same connection
    finally:
        await transport.close()
    assert [tls for _, tls in relay.received] == [True, True]
    assert relay.logins == [USER]  # one connection, one login
    ids = [message_from_bytes(bytes(e.content))["Message-ID"] for e, _ in relay.received]  # type: ignore[arg-type]
    assert ids == ["<tls-1@messagerie.mssante.fr>", "<tls-2@messagerie.mssante.fr>"]


async def test_a_relay_whose_certificate_does_not_check_gets_nothing(
    starttls_relay: tuple[Relay, int], tmp_path: Path
) -> None:
    relay, port = starttls_relay
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    transport = SmtpTransport(
        "127.0.0.1",
        port,
        security="starttls",
        username=USER,
        password=PASSWORD,
        tls_context=relay_tls_context("starttls", other_ca),
        attempts=1,
    )
    try:
        with pytest.raises(DeliveryDeferred):
            await transport.send(_email(1))
    finally:
        await transport.close()
    assert relay.received == []
    assert relay.logins == []


def test_production_refuses_relay_credentials_in_clear(tmp_path: Path) -> None:
    common: dict[str, Any] = {
        "environment": "production",
        "data_dir": tmp_path,
        "internal_token": "x" * 40,
        "database_url": "postgresql+asyncpg://notifier@db/notifier",
        "smtp_username": USER,
    }
    with pytest.raises(ValueError, match="in clear"):
        NotifierSettings(smtp_security="none", **common)
    assert NotifierSettings(smtp_security="starttls", **common).smtp_username == USER
