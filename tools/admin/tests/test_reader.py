"""The reader: what the operator is told about each line of the file, before any request."""

from __future__ import annotations

import io

import pytest

from mes_admin.reader import (
    InputFileError,
    InputFormat,
    LineError,
    PatientRecord,
    parse_boolean,
    read_records,
)
from mes_contracts.ins import ins_key

HEADER = "ins,state,birth_name,first_names,display_name,email,app_installed\n"


def make_ins(n: int) -> str:
    nir = f"2{n:012d}"
    return nir + ins_key(nir)


def read(text: str, fmt: InputFormat = InputFormat.CSV) -> list[tuple[int, object]]:
    # As the CLI opens files: the BOM, if any, is dropped by utf-8-sig.
    stream = io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8-sig", newline="")
    return list(read_records(stream, fmt))


def test_csv_good_lines_become_request_bodies() -> None:
    ins = make_ins(1)
    lines = read(HEADER + f"{ins},Activated, DUPONT ,Marie Louise,,marie@example.fr,oui\n")
    assert lines == [
        (
            2,
            PatientRecord(
                ins=ins,
                state="activated",
                birth_name="DUPONT",
                first_names="Marie Louise",
                email="marie@example.fr",
                app_installed=True,
            ),
        )
    ]
    record = lines[0][1]
    assert isinstance(record, PatientRecord)
    # Empty display_name is omitted, not sent as null or "".
    assert record.body() == {
        "state": "activated",
        "birth_name": "DUPONT",
        "first_names": "Marie Louise",
        "email": "marie@example.fr",
        "app_installed": True,
    }


def test_csv_with_bom_and_crlf_and_reordered_columns() -> None:
    ins = make_ins(2)
    text = (
        "\ufeffemail,ins,state,birth_name,first_names\r\n"
        f"a@example.fr,{ins},created,MARTIN,Paul\r\n"
    )
    [(line_no, record)] = read(text)
    assert line_no == 2
    assert isinstance(record, PatientRecord) and record.ins == ins
    assert record.app_installed is None and "app_installed" not in record.body()


def test_bad_lines_carry_file_line_numbers_and_reasons() -> None:
    good = make_ins(3)
    wrong_key = make_ins(4)[:13] + ("00" if not make_ins(4).endswith("00") else "01")
    text = (
        HEADER
        + "\n".join(
            [
                f"{good},activated,DUPONT,Marie,,m@example.fr,",  # 2 ok
                "12345,activated,DUPONT,Marie,,m@example.fr,",  # 3 wrong_length
                "",  # 4 blank: skipped
                f"{wrong_key},activated,DUPONT,Marie,,m@example.fr,",  # 5 wrong_key
                "2790351215X8989,activated,DUPONT,Marie,,m@example.fr,",  # 6 bad_characters
                f"{make_ins(5)},sleeping,DUPONT,Marie,,m@example.fr,",  # 7 invalid_state
                f"{make_ins(6)},created,,Marie,,m@example.fr,",  # 8 missing_field
                f"{make_ins(7)},created,DUPONT,Marie,,not-an-email,",  # 9 invalid_email
                f"{make_ins(8)},created,DUPONT,Marie,,m@example.fr,peut-être",  # 10 invalid_boolean
                f"{make_ins(9)},created,DUPONT",  # 11 wrong_field_count
                f"{good},closed,DUPONT,Marie,,m@example.fr,",  # 12 duplicate_ins
            ]
        )
        + "\n"
    )
    results = {n: (r.reason if isinstance(r, LineError) else "ok") for n, r in read(text)}
    assert results == {
        2: "ok",
        3: "wrong_length",
        5: "wrong_key",
        6: "bad_characters",
        7: "invalid_state",
        8: "missing_field",
        9: "invalid_email",
        10: "invalid_boolean",
        11: "wrong_field_count",
        12: "duplicate_ins",
    }
    errors = dict(read(text))
    assert isinstance(errors[12], LineError) and "line 2" in errors[12].detail
    assert isinstance(errors[5], LineError) and errors[5].ins == wrong_key


def test_multiline_quoted_cell_keeps_following_line_numbers_right() -> None:
    text = (
        HEADER + f'{make_ins(10)},created,DUPONT,"Marie\nLouise",,m@example.fr,\n'
        f"{make_ins(11)},sleeping,DUPONT,Marie,,m@example.fr,\n"
    )
    assert [n for n, _ in read(text)] == [2, 4]


@pytest.mark.parametrize(
    "header", ["ins,state,birth_name,first_names,emial\n", "ins,state,birth_name,first_names\n"]
)
def test_csv_header_problems_stop_before_any_line(header: str) -> None:
    with pytest.raises(InputFileError):
        read(header + "x,y,z,w,v\n")


def test_jsonl_lines() -> None:
    ins = make_ins(12)
    text = (
        "\n".join(
            [
                f'{{"ins": "{ins}", "state": "opposed", "birth_name": "B", "first_names": "F", '
                f'"email": "f@example.fr", "app_installed": false, "display_name": "Fanny B"}}',
                "not json",
                "",
                "[1, 2]",
                f'{{"ins": "{make_ins(13)}", "state": "created", "nom": "B"}}',
                '{"ins": 279035121518989, "state": "created"}',
                f'{{"ins": "{make_ins(14)}", "state": "created", "birth_name": "B", '
                f'"first_names": "F", "email": "f@example.fr", "app_installed": "yes"}}',
            ]
        )
        + "\n"
    )
    results = read("\ufeff" + text, InputFormat.JSONL)
    assert [(n, r.reason if isinstance(r, LineError) else "ok") for n, r in results] == [
        (1, "ok"),
        (2, "invalid_json"),
        (4, "invalid_json"),
        (5, "unknown_field"),
        (6, "invalid_field"),
        (7, "ok"),
    ]
    first, last = results[0][1], results[-1][1]
    assert isinstance(first, PatientRecord) and first.body()["app_installed"] is False
    assert first.display_name == "Fanny B"
    assert isinstance(last, PatientRecord) and last.app_installed is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("Oui", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("NON", False),
        ("", None),
        ("  ", None),
    ],
)
def test_booleans(text: str, expected: bool | None) -> None:
    assert parse_boolean(text) is expected


def test_boolean_refuses_other_words() -> None:
    with pytest.raises(ValueError):
        parse_boolean("vrai")
