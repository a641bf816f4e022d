"""JSON log lines, each carrying the service name and the current request id."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from .context import request_id_var

__all__ = ["JsonFormatter", "StderrHandler", "configure_logging"]

# Never copied into a line: the record's own fields, and uvicorn's ``color_message`` (the same
# text with ANSI colour escapes, for a terminal).
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the line, not at set-up: a test
    runner swaps it per test, and a handler holding a stale one fails on a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _ours_to_replace(handler: logging.Handler) -> bool:
    # Ours from an earlier call, or a plain stderr/stdout one (basicConfig): each would print
    # every line a second time. Others (a test runner's capture, a file) stay.
    return isinstance(handler, StderrHandler) or type(handler) is logging.StreamHandler


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    handler = StderrHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not _ours_to_replace(h)] + [handler]
    root.setLevel(level.upper())
    # uvicorn's own handlers would print plain lines beside ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx logs every call at INFO: a line per service-to-service hop, on every request's
    # path (metrics and the request id already tell what an operator needs).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
