from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mes_platform.settings import ServiceSettings

__all__ = ["NotifierSettings"]


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MES_NOTIFIER_", extra="ignore")

    service_name: str = "notifier"
    port: int = 8105
    # The local SMTP sink of `make run` listens here; production points at a real relay.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_sender: str = Field(
        default="Mon espace santé <ne-pas-repondre@messagerie.mssante.fr>",
        description="From: of every e-mail the notifier sends",
    )
