from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
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
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none",
        description="none (the local sink), starttls (upgrade after connecting, port 587) or "
        "tls (implicit TLS from the first byte, port 465)",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="CA bundle (PEM) the relay's certificate must chain to, with starttls or "
        "tls; unset: the system's CAs. The certificate's name is checked against smtp_host",
    )
    smtp_username: str = Field(default="", description="Relay login; empty: no AUTH")
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_connections: int = Field(
        default=32,
        ge=1,
        le=64,
        description="SMTP connections kept open to the relay, each sending one e-mail at a "
        "time and recording it sent before the next. Each e-mail waits for four of the "
        "relay's replies: on a loaded machine a round trip takes milliseconds, and the "
        "connections in parallel are what keeps the notifier up with the senders (16 were "
        "the bound of its latency at 500 e-mails/s)",
    )
    smtp_sender: str = Field(
        default="Mon espace santé <ne-pas-repondre@messagerie.mssante.fr>",
        description="From: of every e-mail the notifier sends",
    )
    mail_domain: str = Field(
        default="messagerie.mssante.fr",
        description="Domain of the Message-IDs of notifications and of the messages they name",
    )
    login_url: str = Field(
        default="https://www.monespacesante.fr",
        description="Where a patient logs in; the link of every patient e-mail",
    )
    group_window_seconds: float = Field(
        default=3.0,
        ge=0,
        description="After an e-mail to a patient, the patient's next new messages within this "
        "long wait and go together in one e-mail (0: one e-mail per message)",
    )
    retry_first_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait between two attempts of a notification"
    )
    retry_for_seconds: float = Field(
        default=3 * 86400.0,
        gt=0,
        description="How long a relay or provider failure is retried before the notification "
        "is recorded as failed permanently",
    )
    contact_grace_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How long a notification waits for the patient's profile or the mailbox's "
        "directory entry to be known before it is recorded as not notifiable",
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A sender's claim on a notification; after a crash, another sender takes "
        "it over this long after",
    )
    sender_poll_seconds: float = Field(default=0.5, gt=0)
    sender_batch_size: int = Field(
        default=1024,
        ge=1,
        description="Most notifications claimed at once, and most jobs waiting for the lanes",
    )
    push_provider: Literal["log", "fcm"] = Field(
        default="log",
        description="log: pushes are written to <data_dir>/push/pushes.jsonl (development); "
        "fcm: Firebase Cloud Messaging HTTP v1",
    )
    fcm_project_id: str = ""
    fcm_credentials_file: Path | None = Field(
        default=None, description="The service account's JSON key file (FCM)"
    )
    fcm_endpoint: str = Field(
        default="https://fcm.googleapis.com", description="Base URL of the FCM HTTP v1 API"
    )
    fcm_token_uri: str = Field(
        default="", description="OAuth2 token endpoint; empty: the key file's token_uri"
    )
    consumer_linger_seconds: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="How long the intake of messages' events (conversation, mailbox) waits "
        "for more to handle with the first one "
        "(one transaction, one commit and one write of acknowledgements for all), when that "
        "event came less than this after the one before it: under a steady flow, batches "
        "fill; an event after a pause is handled at once. Adds at most this to an e-mail's "
        "latency under load",
    )

    @model_validator(mode="after")
    def _fcm_complete(self) -> NotifierSettings:
        if self.push_provider == "fcm" and not (self.fcm_project_id and self.fcm_credentials_file):
            raise ValueError("push_provider fcm needs fcm_project_id and fcm_credentials_file")
        return self

    @model_validator(mode="after")
    def _no_credentials_in_clear(self) -> NotifierSettings:
        if self.smtp_username and self.smtp_security == "none" and self.environment == "production":
            raise ValueError(
                "smtp_username is set with smtp_security none: the relay's credentials would "
                "travel in clear; use starttls or tls"
            )
        return self

    @property
    def push_log_file(self) -> Path:
        return self.data_dir / "push" / "pushes.jsonl"
