"""Ids of what the services create: UUIDs whose first 48 bits are the creation's time.

A UUID version 7 (RFC 9562; ``uuid.uuid7`` from Python 3.14): 48 bits of milliseconds since
the epoch, then 74 random bits. An id made in a later millisecond sorts after, as text as well
as a UUID (those of one millisecond in any order among themselves), so a new row's key, and a
consumer's record of a new event, go at the end of their indexes instead of anywhere in them:
each commit writes a few index pages, not one per row. The random bits keep an id unguessable.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_id"]

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62


def new_id() -> str:
    """A new id: a version 7 UUID, in its canonical spelling."""
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    rand_a = (random >> 62) & 0xFFF
    rand_b = random & ((1 << 62) - 1)
    value = (time.time_ns() // 1_000_000) << 80 | _VERSION | rand_a << 64 | _VARIANT | rand_b
    return str(uuid.UUID(int=value))
