from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mes_contracts.nondelivery import MAX_MESSAGE_SIZE_MO
from mes_platform.settings import ServiceSettings

__all__ = ["MailboxSettings"]


class MailboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MES_MAILBOX_", extra="ignore")

    service_name: str = "mailbox"
    port: int = 8102
    max_message_bytes: int = Field(
        default=MAX_MESSAGE_SIZE_MO * 1024 * 1024,
        description="Largest attachment (25 Mo, the size limit of a whole message)",
    )
    delivery: bool = Field(
        default=True,
        description="Whether this process stores the conversation events into the mailboxes "
        "(the delivery consumer). The stack runs two mailbox processes on one database: "
        "`mailbox` serves the API with delivery off, `mailbox-delivery` delivers, so that a "
        "read never waits behind a delivery transaction on the same event loop",
    )
    # Delivery stores the events that arrived together in one transaction, up to this many:
    # bigger batches, fewer commits (on SQLite, bench_delivery.py: about 6,200 events/s at 64,
    # 7,300 at 256).
    consumer_batch_size: int = 256
    consumer_linger_seconds: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="How long delivery waits for more events to store with the first one "
        "(one transaction for all), when that event came less than this after the one before "
        "it: under a steady flow of messages, batches fill; a message after a pause is stored "
        "at once. Adds at most this to the time until a message is listed. Measured with make "
        "bench at 32 senders: 5 ms took delivery from about 0.9 to 0.6 ms of CPU per message. "
        "0: never wait (the events that arrived meanwhile are still stored together)",
    )
    consumer_ack_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long NATS waits for delivery to acknowledge an event before sending "
        "it again: after a delivery process dies mid-batch, its events are stored this long "
        "later, by the process that takes over (a batch takes milliseconds; an event stored "
        "twice is stored once). A consumer created with another value takes this one",
    )
    blob_dir: Path | None = Field(
        default=None, description="Where attachment bytes live; empty means <data_dir>/blobs"
    )

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"
