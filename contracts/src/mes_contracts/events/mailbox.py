"""Events of the mailbox service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mes_contracts.addresses import MssanteAddressStr
from mes_contracts.events.base import EventPayload, UtcDatetime

__all__ = ["MessageRead"]


class MessageRead(EventPayload):
    """A recipient opened a message for the first time; may trigger a read receipt."""

    SUBJECT: ClassVar[str] = "mes.mailbox.message.read.v1"

    message_id: str = Field(description="Identifier of the message.", examples=["msg-01HZX3K9"])
    mailbox_address: MssanteAddressStr = Field(
        description="Mailbox in which the message was read.",
        examples=["279035121518989@patient.mssante.fr"],
    )
    read_at: UtcDatetime = Field(
        description="When it was first opened (UTC).", examples=["2024-05-02T18:12:00Z"]
    )
    read_receipt_requested: bool = Field(
        description="Whether the sender asked for a read receipt; the patient cannot refuse it.",
        examples=[True],
    )
    original_sender_address: MssanteAddressStr = Field(
        description="Who sent the message, and receives the receipt.",
        examples=["dr.martin@hopital-exemple.mssante.fr"],
    )
    subject: str = Field(
        description="Subject of the message read.", examples=["Résultats d'analyses"]
    )
