"""Read a file of patient profiles (CSV or JSON Lines) and validate each line locally.

A bad line never stops the reading: it comes out as a ``LineError`` with its file line number
(the CSV header is line 1), so the operator can fix that line and import it again. Only a file
that cannot be read at all (an unknown or missing header column) raises ``InputFileError``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from mes_contracts.events.identity import PatientState
from mes_contracts.ins import InsError, validate_ins

__all__ = [
    "COLUMNS",
    "InputFileError",
    "InputFormat",
    "LineError",
    "PatientRecord",
    "ReadLine",
    "parse_boolean",
    "read_records",
]

COLUMNS = ("ins", "state", "birth_name", "first_names", "display_name", "email", "app_installed")
_REQUIRED = ("ins", "state", "birth_name", "first_names", "email")
_TRUE = frozenset({"true", "1", "yes", "oui"})
_FALSE = frozenset({"false", "0", "no", "non"})
_STATES = frozenset(state.value for state in PatientState)


class InputFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class InputFileError(Exception):
    """The file as a whole cannot be imported (e.g. its CSV header names no ``ins`` column)."""


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """One valid line: the INS and the body of ``PUT /v1/admin/patients/{ins}``."""

    ins: str
    state: str
    birth_name: str
    first_names: str
    email: str
    display_name: str | None = None
    app_installed: bool | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "state": self.state,
            "birth_name": self.birth_name,
            "first_names": self.first_names,
            "email": self.email,
        }
        # Omitted, not null: the gateway then keeps (or defaults) what it has.
        if self.display_name is not None:
            body["display_name"] = self.display_name
        if self.app_installed is not None:
            body["app_installed"] = self.app_installed
        return body


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one line was not imported; ``reason`` is a stable code, ``detail`` is for humans."""

    ins: str
    reason: str
    detail: str


ReadLine = tuple[int, PatientRecord | LineError]


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_boolean(value: str) -> bool | None:
    """``true/false/1/0/yes/no/oui/non`` (any case); empty means "not given" (None)."""
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid("invalid_field", f"{name} must be a string")
    # Spreadsheets leave stray spaces around cells; the gateway strips them too.
    return value.strip() or None


def _validate(fields: dict[str, Any], seen: dict[str, int], line_no: int) -> PatientRecord:
    values = {name: _text(fields, name) for name in COLUMNS if name != "app_installed"}
    missing = [name for name in _REQUIRED if values[name] is None]
    if "ins" in missing:
        raise _Invalid("missing_field", "ins is required")
    try:
        ins = validate_ins(values["ins"] or "")
    except InsError as error:
        raise _Invalid(error.reason.value, error.detail) from error
    if missing:
        raise _Invalid("missing_field", f"required: {', '.join(missing)}")
    state = (values["state"] or "").lower()
    if state not in _STATES:
        raise _Invalid("invalid_state", f"state must be one of {', '.join(sorted(_STATES))}")
    email = values["email"] or ""
    local, at, domain = email.rpartition("@")
    if not (at and local and "." in domain):
        raise _Invalid("invalid_email", f"not an e-mail address: {email!r}")
    app_installed = fields.get("app_installed")
    if not isinstance(app_installed, bool | None):
        try:
            app_installed = parse_boolean(str(app_installed))
        except ValueError:
            raise _Invalid(
                "invalid_boolean", "app_installed must be true/false/1/0/yes/no/oui/non"
            ) from None
    # Two lines for the same patient would race each other under concurrency: the second
    # is refused so that the result never depends on timing.
    if ins in seen:
        raise _Invalid("duplicate_ins", f"same INS as line {seen[ins]}")
    seen[ins] = line_no
    return PatientRecord(
        ins=ins,
        state=state,
        birth_name=values["birth_name"] or "",
        first_names=values["first_names"] or "",
        email=email,
        display_name=values["display_name"],
        app_installed=app_installed,
    )


def _checked(fields: dict[str, Any], seen: dict[str, int], line_no: int) -> ReadLine:
    try:
        return line_no, _validate(fields, seen, line_no)
    except _Invalid as invalid:
        ins = fields.get("ins")
        return line_no, LineError(
            ins if isinstance(ins, str) else "", invalid.reason, invalid.detail
        )


def _read_csv(stream: TextIO) -> Iterator[ReadLine]:
    """Check the header now (a bad one is a usage error), then read the rows lazily."""
    rows = csv.reader(stream)
    header = next(rows, None)
    if header is None:
        return iter(())
    columns = [name.strip().lower().lstrip("\ufeff") for name in header]
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise InputFileError(
            f"unknown CSV column(s): {', '.join(unknown)}; expected {', '.join(COLUMNS)}"
        )
    absent = [name for name in _REQUIRED if name not in columns]
    if absent:
        raise InputFileError(f"CSV header lacks required column(s): {', '.join(absent)}")
    return _csv_rows(rows, columns)


def _csv_rows(rows: Any, columns: list[str]) -> Iterator[ReadLine]:
    seen: dict[str, int] = {}
    next_line = rows.line_num + 1
    for row in rows:
        # A quoted cell may span lines: the record is numbered by the line it starts on.
        line_no, next_line = next_line, rows.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            ins = row[columns.index("ins")] if len(row) > columns.index("ins") else ""
            yield (
                line_no,
                LineError(
                    ins.strip(),
                    "wrong_field_count",
                    f"{len(row)} fields, the header has {len(columns)}",
                ),
            )
            continue
        yield _checked(dict(zip(columns, row, strict=True)), seen, line_no)


def _read_jsonl(stream: Iterable[str]) -> Iterator[ReadLine]:
    seen: dict[str, int] = {}
    for line_no, line in enumerate(stream, start=1):
        text = line.strip().lstrip("\ufeff") if line_no == 1 else line.strip()
        if not text:
            continue
        try:
            fields = json.loads(text)
        except ValueError as error:
            yield line_no, LineError("", "invalid_json", str(error))
            continue
        if not isinstance(fields, dict):
            yield line_no, LineError("", "invalid_json", "each line must be a JSON object")
            continue
        unknown = sorted(set(fields) - set(COLUMNS))
        if unknown:
            ins = fields.get("ins")
            yield (
                line_no,
                LineError(
                    ins if isinstance(ins, str) else "",
                    "unknown_field",
                    f"unknown field(s): {', '.join(unknown)}",
                ),
            )
            continue
        yield _checked(fields, seen, line_no)


def read_records(stream: TextIO, input_format: InputFormat) -> Iterator[ReadLine]:
    """Yield ``(line number, PatientRecord | LineError)`` for every non-blank data line.

    Open the stream with ``encoding="utf-8-sig", newline=""`` so a BOM is dropped and CSV
    quoting sees the file's own line ends; a stray BOM is tolerated anyway.
    """
    if input_format is InputFormat.CSV:
        return _read_csv(stream)
    return _read_jsonl(stream)
