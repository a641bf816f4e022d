"""The committed AsyncAPI document must match the models."""

import json
from pathlib import Path
from typing import Any

from mes_contracts.asyncapi import DEFAULT_PATH, build_asyncapi, main, render
from mes_contracts.events import EVENT_TYPES

COMMITTED = Path(__file__).resolve().parents[1] / "asyncapi.json"
REGENERATE = "contracts/asyncapi.json is stale; run: .venv/bin/python -m mes_contracts.asyncapi"


def test_committed_document_matches_models() -> None:
    assert DEFAULT_PATH == COMMITTED
    assert COMMITTED.exists(), REGENERATE
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == build_asyncapi(), REGENERATE
    assert COMMITTED.read_text(encoding="utf-8") == render(build_asyncapi()), REGENERATE


def test_check_mode(tmp_path: Path) -> None:
    assert main(["--check", str(COMMITTED)]) == 0
    stale = tmp_path / "asyncapi.json"
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    stale.write_text(stale.read_text(encoding="utf-8").replace("3.1.0", "2.6.0"))
    assert main(["--check", str(stale)]) == 1


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_document_shape() -> None:
    document = build_asyncapi()
    assert document["asyncapi"] == "3.1.0"
    assert document["info"]["title"] == "MES Messagerie events"
    assert set(document["channels"]) == set(EVENT_TYPES)
    assert set(document["x-streams"]) == {
        "MES_IDENTITY",
        "MES_CONVERSATION",
        "MES_MAILBOX",
        "MES_DIRECTORY",
    }
    assert "EventEnvelope" in document["components"]["schemas"]
    for ref in _refs(document):
        _resolve(document, ref)
