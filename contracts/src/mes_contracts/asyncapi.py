"""The AsyncAPI 3.1 document of MES Messagerie's events, generated from the models.

Run ``python -m mes_contracts.asyncapi`` to (re)write ``contracts/asyncapi.json``, or
``python -m mes_contracts.asyncapi --check`` in CI to fail when the committed file no
longer matches the models. Generating it from the code is what keeps it true.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mes_contracts.events.envelope import EventEnvelope
from mes_contracts.events.registry import EVENT_TYPES
from mes_contracts.events.streams import STREAMS, stream_for_subject

__all__ = ["ASYNCAPI_VERSION", "DEFAULT_PATH", "EVENT_HEADERS", "build_asyncapi", "main", "render"]

# contracts/src/mes_contracts/asyncapi.py → contracts/asyncapi.json (source checkout only).
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "asyncapi.json"
_REF = "#/components/schemas/{model}"
# The latest version @asyncapi/parser reads (tools/openapi/package-lock.json pins it).
ASYNCAPI_VERSION = "3.1.0"
# The NATS headers the outbox relay puts on every event (mes_platform.outbox).
EVENT_HEADERS: dict[str, Any] = {
    "title": "EventHeaders",
    "type": "object",
    "description": "NATS headers of every event.",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "format": "uuid",
            "description": "The envelope's id: JetStream drops a second message with the same "
            "id (de-duplication), and consumers record it to handle an event once.",
        },
        "X-Request-ID": {
            "type": "string",
            "minLength": 1,
            "description": "The id of the request that caused the event (the envelope's "
            "correlation id): the same id is in every log line written for it, in every "
            "service.",
        },
    },
    "required": ["Nats-Msg-Id", "X-Request-ID"],
}


def _version() -> str:
    try:
        return version("mes-contracts")
    except PackageNotFoundError:  # imported from a source tree that is not installed
        return "0.0.0"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else ""


def build_asyncapi() -> dict[str, Any]:
    """Return the AsyncAPI 3.1 document: one channel per subject, streams as extensions."""
    models: list[type[BaseModel]] = [EventEnvelope, *EVENT_TYPES.values()]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    schemas: dict[str, Any] = dict(sorted(top.get("$defs", {}).items()))

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for subject, model in sorted(EVENT_TYPES.items()):
        name = model.__name__
        envelope_name = f"{name}Envelope"
        # On the wire the payload travels inside the envelope, its type fixed by the subject.
        schemas[envelope_name] = {
            "title": envelope_name,
            "allOf": [
                {"$ref": _REF.format(model="EventEnvelope")},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": subject},
                        "payload": {"$ref": _REF.format(model=name)},
                    },
                },
            ],
        }
        messages[name] = {
            "name": name,
            "title": name,
            "summary": _first_line(model.__doc__),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/EventHeaders"},
            "payload": {"$ref": _REF.format(model=envelope_name)},
        }
        channels[subject] = {
            "address": subject,
            "title": name,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "x-stream": stream_for_subject(subject),
        }
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{subject}"},
            "messages": [{"$ref": f"#/channels/{subject}/messages/{name}"}],
            "x-producer": subject.split(".")[1],
        }

    schemas["EventHeaders"] = EVENT_HEADERS
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "MES Messagerie events",
            "version": _version(),
            "description": (
                "Events published by the MES Messagerie services on NATS JetStream. "
                "Subjects follow mes.<service>.<entity>.<event>.v<N> (past tense); every "
                "event travels in an EventEnvelope whose id is the Nats-Msg-Id."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "NATS server with JetStream enabled.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
        "x-streams": {
            name: {"subjects": list(spec.subjects), "description": spec.description}
            for name, spec in sorted(STREAMS.items())
        },
    }


def render(document: dict[str, Any]) -> str:
    """Serialise the document the way it is committed (stable, diff-friendly)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the document, or with ``--check`` return 1 if the file on disk differs."""
    parser = argparse.ArgumentParser(prog="python -m mes_contracts.asyncapi")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    path: Path = args.path
    text = render(build_asyncapi())
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            print(
                f"{path} is out of date; run: python -m mes_contracts.asyncapi {path}",
                file=sys.stderr,
            )
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
