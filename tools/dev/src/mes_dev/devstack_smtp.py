"""A local SMTP sink for the development stack: accepts every mail and keeps it as an .eml file.

Run as ``python -m mes_dev.devstack_smtp --port N --mail-dir var/mail``. Each message is
written whole (to a temporary name, then renamed), so whoever lists the folder never reads half a
mail. The envelope goes into ``X-Envelope-From`` / ``X-Envelope-To`` headers at the top, because
the recipients of a notification are not always in its ``To:`` header.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["MailSink", "main"]


class MailSink:
    """aiosmtpd handler: one .eml file per accepted message."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        mail_dir.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.mail_dir / f".{name}.tmp"
        tmp.write_bytes(head + content)
        tmp.rename(self.mail_dir / name)
        print(f"kept mail from {envelope.mail_from} to {envelope.rcpt_tos} as {name}", flush=True)
        return "250 Message accepted for delivery"


async def _serve(host: str, port: int, mail_dir: Path) -> None:
    loop = asyncio.get_running_loop()
    sink = MailSink(mail_dir)

    def factory() -> Any:
        return SMTP(sink, hostname="mes-dev-smtp", enable_SMTPUTF8=True)

    server = await loop.create_server(factory, host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"SMTP sink listening on {host}:{port}, keeping mails in {mail_dir}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink that keeps mails as .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mail-dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port, args.mail_dir))


if __name__ == "__main__":
    main()
