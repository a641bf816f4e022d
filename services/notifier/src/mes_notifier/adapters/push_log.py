"""The push provider of development: each push is appended to a JSON-lines file (``make
run`` keeps it under ``var/push/``) and logged, so a developer sees what a phone would get."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["RecordedPushes"]

log = logging.getLogger(__name__)


class RecordedPushes:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    async def push(self, token: str, title: str, body: str, data: Mapping[str, str]) -> None:
        record = {
            "at": datetime.now(UTC).isoformat(),
            "token": token,
            "notification": {"title": title, "body": body},
            "data": dict(data),
        }
        await asyncio.to_thread(self._append, json.dumps(record, ensure_ascii=False))
        log.info("push recorded", extra={"file": str(self.path), "token_tail": token[-6:]})

    async def close(self) -> None:
        return None
