"""Settings common to every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEV_INTERNAL_TOKEN",
    "INTERNAL_TOKEN_MIN_LENGTH",
    "ServiceSettings",
    "ServingSettings",
]

DEV_INTERNAL_TOKEN = "dev-internal-token-change-me"
# Whoever holds the internal token is every service's trusted caller: in production it is at
# least as long as a random 192-bit secret written in base64.
INTERNAL_TOKEN_MIN_LENGTH = 32


class ServingSettings(BaseSettings):
    """What every process that serves HTTP reads, services and gateway alike (each subclass
    with its own env prefix)."""

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_json: bool = True
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry (traces, metrics and logs through the "
        "global providers the process configures); off, a request does not look the providers "
        "up. The services' own metrics (/metrics) and JSON logs do not depend on it",
    )
    log_requests: bool = Field(
        default=True,
        description="One log line per request served: request id, method, route template, "
        "status and duration (never the path, a subject, a body or an INS)",
    )
    internal_token: SecretStr = SecretStr(DEV_INTERNAL_TOKEN)

    @model_validator(mode="after")
    def _refuse_a_weak_internal_token_in_production(self) -> ServingSettings:
        """In production, neither the development token nor one too short to be a secret."""
        if self.environment != "production":
            return self
        value = self.internal_token.get_secret_value()
        if value in ("", DEV_INTERNAL_TOKEN):
            raise ValueError("internal_token must be set to a real secret in production")
        if len(value) < INTERNAL_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"internal_token must be at least {INTERNAL_TOKEN_MIN_LENGTH} characters in "
                f"production (got {len(value)})"
            )
        return self


class ServiceSettings(ServingSettings):
    """Read from the environment with the service's prefix, e.g. ``MES_IDENTITY_DATABASE_URL``."""

    model_config = SettingsConfigDict(env_prefix="MES_", extra="ignore")

    service_name: str = "service"
    port: int = 8100
    data_dir: Path = Path("var")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file <data_dir>/<service>.db",
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="FULL survives a power cut at a 40-65 % write cost; NORMAL survives a crash",
    )
    db_pool_size: int = 10
    postgres_read_settings: dict[str, str] = Field(
        default_factory=dict,
        description="Run-time parameters of the PostgreSQL sessions that only read "
        '(e.g. {"plan_cache_mode": "force_generic_plan"}), which then have a pool of their '
        "own; ignored on SQLite",
    )
    nats_url: str = "nats://127.0.0.1:4222"
    max_body_bytes: int = 1_048_576
    background_work: bool = Field(
        default=True,
        description="Whether this process runs the service's background work: the outbox "
        "relay, and the service's own (closing idle conversations). Off for a process that "
        "only serves reads beside the one that writes (conversation-reads): it has no events "
        "of its own to publish, and reading the writer's outbox it would publish them twice "
        "and take the write lock to delete them",
    )
    relay_batch_size: int = 256
    relay_poll_seconds: float = 0.5
    consumer_max_deliver: int = 5
    consumer_batch_size: int = 64

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> ServiceSettings:
        if self.environment == "production" and not self.database_url:
            raise ValueError("database_url must be set in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service_name + '.db')}"
