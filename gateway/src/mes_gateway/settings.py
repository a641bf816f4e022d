"""Gateway settings, read from ``MES_GATEWAY_*`` environment variables.

The gateway owns nothing persistent, so it has no database or NATS settings: only where the
services are, how tokens are verified, and how large a request may be.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mes_platform.settings import ServingSettings

__all__ = [
    "CONVERSATION_READS",
    "DEV_JWT_SIGNING_KEY",
    "MAILBOX_DELIVERY",
    "MESSAGE_PATHS",
    "SERVICE_NAMES",
    "STANDS_IN_FOR",
    "UPLOAD_PATHS",
    "GatewaySettings",
]

# Public on purpose: anyone can mint a development token with it, which is why production
# refuses it. 32+ bytes, the HS256 minimum PyJWT accepts without a warning.
DEV_JWT_SIGNING_KEY = "dev-jwt-signing-key-change-me-0123456789"

SERVICE_NAMES = ("identity", "mailbox", "conversation", "directory", "notifier")
# Where the conversations are read (patients' lists, contacts, a mailbox's conversations): a
# process of the conversation service of its own when ``conversation_reads_url`` is set, else
# the conversation service itself.
CONVERSATION_READS = "conversation_reads"
# The mailbox's process that stores the conversation events into the mailboxes: the gateway
# never calls it, but ``/health`` asks it when ``mailbox_delivery_url`` is set (a send is
# accepted while delivery is down, and nothing else would say that nothing is delivered).
MAILBOX_DELIVERY = "mailbox_delivery"
# Processes that may run apart, each known by its URL when it does (``<name>_url``).
APART = (CONVERSATION_READS, MAILBOX_DELIVERY)
# A process apart that serves part of a service's calls, and that service: without a URL of
# its own, the service serves those calls, and it takes over any such call that cannot connect
# (the same code on the same database).
STANDS_IN_FOR = {CONVERSATION_READS: "conversation"}

# Attachment uploads may carry up to the 25 Mo of a message (+ multipart overhead).
UPLOAD_PATHS = ("/v1/attachments", "/v1/me/attachments", "/v1/me/documents")
# Messages may carry a body of 200,000 characters, and JSON may write each one as a \uXXXX
# escape, or two of them (12 bytes) outside the Basic Multilingual Plane: 2.4 MB for the body
# alone, in an encoding as valid as UTF-8 (Python's json.dumps writes it by default).
MESSAGE_PATHS = ("/v1/messages", "/v1/me/conversations")


class GatewaySettings(ServingSettings):
    model_config = SettingsConfigDict(env_prefix="MES_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000

    identity_url: str = "http://127.0.0.1:8101"
    mailbox_url: str = "http://127.0.0.1:8102"
    conversation_url: str = "http://127.0.0.1:8103"
    conversation_reads_url: str | None = Field(
        default=None,
        description="A process of the conversation service that serves the conversations' "
        "reads, so that they never wait behind the admission of professionals' sends (unset: "
        "the conversation service serves them)",
    )
    mailbox_delivery_url: str | None = Field(
        default=None,
        description="The mailbox's delivery process, when it runs apart from the mailbox's "
        "API: /health reports it (unset: the mailbox's own readiness covers delivery)",
    )
    directory_url: str = "http://127.0.0.1:8104"
    notifier_url: str = "http://127.0.0.1:8105"
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="A port of its own where the gateway serves GET /metrics to the scraper "
        "(on the gateway's host), never on the public port. Unset: outside production, "
        "/metrics is served on the public port; in production, nowhere",
    )
    upstream_timeout_seconds: float = 10.0
    health_timeout_seconds: float = 2.0

    jwt_dev_signing_key: SecretStr = Field(
        default=SecretStr(DEV_JWT_SIGNING_KEY),
        description="HS256 key of development/test tokens; never used to verify in production",
    )
    jwt_issuer: str = "mes-messagerie-dev"
    jwt_audience: str = "mes-messagerie"
    jwks_url: str | None = Field(
        default=None, description="The identity provider's JWKS (required in production)"
    )
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description="Algorithms accepted from the JWKS in production",
    )
    jwt_leeway_seconds: int = 30
    jwks_cache_seconds: int = 300
    verified_token_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a verified token's principal is reused without checking its "
        "signature again (never past its expiry); 0 checks every request",
    )
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)

    # Abuse control of the patient -> pharmacy channel: fixed windows counted by the
    # pharmacy-directory service, so the limits hold across gateway processes.
    pharmacy_requests_per_patient: int = Field(
        default=10, ge=1, description="Requests to pharmacies a patient may send per window"
    )
    pharmacy_requests_per_pharmacy: int = Field(
        default=300, ge=1, description="Requests from patients one pharmacy receives per window"
    )
    pharmacy_requests_window_seconds: int = Field(default=3600, ge=1, le=86_400)

    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 26 * 1_048_576
    max_message_bytes: int = Field(
        default=3 * 1_048_576,
        description="Body limit of the routes that send a message: any message the schema "
        "admits, written in any JSON escaping",
    )

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> GatewaySettings:
        if self.environment == "production":
            if not self.jwks_url:
                raise ValueError("jwks_url must be set in production")
            if self.jwt_dev_signing_key.get_secret_value() == DEV_JWT_SIGNING_KEY:
                raise ValueError(
                    "jwt_dev_signing_key must not be the public development key in production "
                    "(set it to an empty string: production verifies tokens with the JWKS)"
                )
            if any(alg.upper().startswith("HS") for alg in self.jwt_algorithms):
                raise ValueError("production accepts only asymmetric JWT algorithms")
        return self

    @property
    def service_urls(self) -> dict[str, str]:
        """Every process the gateway knows a URL of, and so every one ``/health`` asks: the
        services, and those of :data:`APART` that run apart."""
        urls = {name: getattr(self, f"{name}_url") for name in SERVICE_NAMES}
        urls.update({name: url for name in APART if (url := getattr(self, f"{name}_url"))})
        return urls

    @property
    def body_limit_overrides(self) -> dict[str, int]:
        return {
            **dict.fromkeys(UPLOAD_PATHS, self.max_upload_bytes),
            **dict.fromkeys(MESSAGE_PATHS, self.max_message_bytes),
        }
