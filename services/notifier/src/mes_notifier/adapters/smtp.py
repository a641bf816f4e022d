"""The relay, over SMTP with aiosmtplib: one connection kept open and reused, STARTTLS or
implicit TLS and AUTH as the settings say."""

from __future__ import annotations

import functools
import logging
import ssl
from pathlib import Path
from typing import Literal

import aiosmtplib
from aiosmtplib.email import quote_address
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ..domain.emails import OutgoingEmail
from ..domain.errors import DeliveryDeferred, DeliveryRefused

__all__ = ["SmtpTransport", "relay_tls_context"]

log = logging.getLogger(__name__)

# Failures of the connection itself, after which a new connection may succeed.
_CONNECTION_LOST = (
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPTimeoutError,
    ConnectionError,
    TimeoutError,
)


@functools.lru_cache(maxsize=4096)
def _quoted(address: str) -> bytes:
    """``<address>`` as MAIL FROM and RCPT TO carry it, checked as aiosmtplib checks it (an
    address that could inject a command is refused with ``ValueError``)."""
    return quote_address(address).encode("ascii")


def relay_tls_context(
    security: Literal["none", "starttls", "tls"], ca_file: Path | None = None
) -> ssl.SSLContext | None:
    """The TLS context of the relay's connections: its certificate must chain to ``ca_file``
    (PEM), or to the system's CAs without one, and name the host connected to. None without
    TLS."""
    if security == "none":
        return None
    return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)


class SmtpTransport:
    """One connection to the relay. A lost connection (the relay closed an idle one, or
    restarted) is opened again and the e-mail tried again, a few times with a short backoff;
    past that the failure is the queue's to retry later."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Literal["none", "starttls", "tls"] = "none",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        attempts: int = 3,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """``tls_context``: the one :func:`relay_tls_context` built, shared by every
        connection (loading a CA bundle costs a tenth of a second or more)."""
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.attempts = attempts
        self._client: aiosmtplib.SMTP | None = None
        self.tls_context = tls_context

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=self.tls_context,
            timeout=self.timeout,
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        if self.username:
            await client.login(self.username, self.password)
        self._size = client.supports_extension("size")
        self._client = client
        return client

    async def _drop(self, *, politely: bool = False) -> None:
        """Forget the connection; ``politely`` says QUIT first (a connection that failed is
        closed at once: a relay that stopped answering would make QUIT wait its timeout)."""
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        if politely:
            try:
                await client.quit()
                return
            except (aiosmtplib.SMTPException, OSError):
                pass
        client.close()

    async def send(self, email: OutgoingEmail) -> None:
        try:
            await self._send_once(email)
            return
        except _CONNECTION_LOST as exc:
            # Tried again below on a new connection; the retry policy is only built then (it
            # costs more than the rest of the client's work per e-mail).
            if self.attempts <= 1:
                raise DeliveryDeferred(f"relay unreachable: {exc!r}") from exc
        except OSError as exc:  # connection refused and the like
            await self._drop()
            raise DeliveryDeferred(f"relay unreachable: {exc!r}") from exc
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.attempts - 1),
                wait=wait_exponential(multiplier=0.05, max=1.0),
                retry=retry_if_exception_type(_CONNECTION_LOST),
                reraise=True,
            ):
                with attempt:
                    await self._send_once(email)
        except _CONNECTION_LOST as exc:
            await self._drop()
            raise DeliveryDeferred(f"relay unreachable: {exc!r}") from exc
        except OSError as exc:  # connection refused and the like
            await self._drop()
            raise DeliveryDeferred(f"relay unreachable: {exc!r}") from exc

    async def _send_once(self, email: OutgoingEmail) -> None:
        try:
            client = await self._connected()
            # The envelope's three commands, not ``sendmail``, which parses each address twice
            # per e-mail and scans the message for its size: an address is checked and quoted
            # once (the sender is always the same, a patient's address comes back), the size
            # is the content's length (its lines already end in CRLF).
            options = [f"SIZE={len(email.content)}".encode()] if self._size else []
            answer = await client.execute_command(
                b"MAIL", b"FROM:" + _quoted(email.mail_from), *options
            )
            if answer.code != aiosmtplib.SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(answer.code, answer.message, email.mail_from)
            answer = await client.execute_command(b"RCPT", b"TO:" + _quoted(email.rcpt_to))
            if answer.code not in (
                aiosmtplib.SMTPStatus.completed,
                aiosmtplib.SMTPStatus.will_forward,
            ):
                raise aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, email.rcpt_to)
            await client.data(email.content)
        except _CONNECTION_LOST:
            await self._drop()
            raise
        except aiosmtplib.SMTPRecipientRefused as exc:
            await self._reset()
            reply = f"{exc.code} {exc.message}"
            if exc.code >= 500:
                raise DeliveryRefused(f"recipient refused: {reply}") from exc
            raise DeliveryDeferred(f"recipient deferred: {reply}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            reply = f"{exc.code} {exc.message}"
            if exc.code >= 500:
                raise DeliveryRefused(f"relay refused: {reply}") from exc
            raise DeliveryDeferred(f"relay deferred: {reply}") from exc

    async def _reset(self) -> None:
        """After a refusal the connection stays usable once the transaction is reset."""
        client = self._client
        if client is None or not client.is_connected:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            await self._drop()

    async def close(self) -> None:
        await self._drop(politely=True)
