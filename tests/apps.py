"""Every FastAPI app of the product, by name, for the tests that read all their routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from mes_conversation.main import create_app as conversation_app
from mes_gateway.main import create_app as gateway_app
from mes_identity.main import create_app as identity_app
from mes_mailbox.main import create_app as mailbox_app
from mes_notifier.main import create_app as notifier_app
from mes_pharmacy_directory.main import create_app as directory_app

__all__ = ["APPS", "SERVICES"]

# The services, which serve the internal routes.
SERVICES: dict[str, Callable[[], FastAPI]] = {
    "identity": identity_app,
    "mailbox": mailbox_app,
    "conversation": conversation_app,
    "pharmacy-directory": directory_app,
    "notifier": notifier_app,
}
# And the gateway, which serves the public API.
APPS: dict[str, Callable[[], FastAPI]] = {**SERVICES, "gateway": gateway_app}
