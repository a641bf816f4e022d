from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mes_contracts.nondelivery import MAX_MESSAGE_SIZE_MO
from mes_platform.settings import ServiceSettings

__all__ = ["ConversationSettings"]


class ConversationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MES_CONVERSATION_", extra="ignore")

    service_name: str = "conversation"
    port: int = 8103
    identity_url: str = "http://127.0.0.1:8101"
    directory_url: str = "http://127.0.0.1:8104"
    group_commit: bool = Field(
        default=True,
        description="On SQLite, the admissions that run in the same turn of the event loop "
        "commit in one transaction, each in a savepoint of its own (mes_platform.group_commit); "
        "no effect on PostgreSQL",
    )
    resolution_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a 'deliverable' answer from identity is reused while identity's "
        "profile changes are received (a change of the patient's profile drops it at once)",
    )
    resolution_unwatched_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long it is reused while they are not (NATS unreachable)",
    )
    directory_cache_seconds: float = Field(
        default=30.0, ge=0, description="How long a directory entry is reused"
    )
    idle_close_after_seconds: float = Field(
        default=0, ge=0, description="Close open conversations idle this long; 0 = never"
    )
    idle_check_interval_seconds: float = Field(default=60.0, gt=0)
    max_subject_chars: int = Field(default=998, ge=1)
    max_body_chars: int = Field(default=200_000, ge=1)
    max_message_bytes: int = Field(
        default=MAX_MESSAGE_SIZE_MO * 1024 * 1024,
        ge=1,
        description="A message's total size (subject and body in UTF-8, attachments): above "
        "it a health actor's message bounces as too_large, a patient's is refused with 413",
    )
