"""INS validation, checked against an independent implementation of the key."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from mes_contracts.ins import Ins, InsError, InsInvalidReason, check_ins, ins_key, validate_ins

SETTINGS = settings(database=None, max_examples=500)

# Written differently from the package on purpose: the Corsican department is replaced by
# its numeric value inside an integer sum rather than by string substitution.
_CORSICA_VALUE = {"2A": 19, "2B": 18}


def reference_key(nir: str) -> int:
    department = nir[5:7].upper()
    department_value = _CORSICA_VALUE.get(department)
    if department_value is None:
        department_value = int(department)
    number = int(nir[:5]) * 10**8 + department_value * 10**6 + int(nir[7:])
    return 97 - number % 97


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
departments = st.one_of(
    st.text(alphabet="0123456789", min_size=2, max_size=2),
    st.sampled_from(["2A", "2B", "2a", "2b"]),
)
nirs = st.builds(
    lambda head, dept, tail: head + dept + tail,
    st.text(alphabet="0123456789", min_size=5, max_size=5),
    departments,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
)


@SETTINGS
@given(nirs)
def test_key_matches_independent_implementation(nir: str) -> None:
    key = reference_key(nir)
    assert 1 <= key <= 97
    assert ins_key(nir) == f"{key:02d}"
    assert validate_ins(nir + f"{key:02d}") == (nir + f"{key:02d}").upper()
    assert check_ins(nir + f"{key:02d}") is None


@SETTINGS
@given(nirs, st.integers(min_value=0, max_value=99))
def test_any_other_key_is_wrong_key(nir: str, key: int) -> None:
    if key == reference_key(nir):
        return
    with pytest.raises(InsError) as caught:
        validate_ins(nir + f"{key:02d}")
    assert caught.value.reason is InsInvalidReason.WRONG_KEY
    assert str(caught.value).startswith("wrong_key: ")


@SETTINGS
@given(st.text(max_size=40).filter(lambda s: len(s) != 15))
def test_wrong_length(value: str) -> None:
    assert check_ins(value) is InsInvalidReason.WRONG_LENGTH


@SETTINGS
@given(
    nirs,
    st.sampled_from([i for i in range(15) if i not in (5, 6)]),
    st.sampled_from([" ", "A", "b", "-", "\n", "\t", "٣", "²", "O"]),
)
def test_non_digit_outside_department_is_bad_characters(nir: str, position: int, char: str) -> None:
    ins = nir + f"{reference_key(nir):02d}"
    bad = ins[:position] + char + ins[position + 1 :]
    assert check_ins(bad) is InsInvalidReason.BAD_CHARACTERS


@pytest.mark.parametrize("department", ["2C", "3A", "A2", "1B", "2 ", "ab", "٢A"])
def test_department_letters_other_than_corsica_are_bad_characters(department: str) -> None:
    assert check_ins("27903" + department + "215189" + "89") is InsInvalidReason.BAD_CHARACTERS


def test_domain_example_is_valid() -> None:
    # Computed: 2790351215189 mod 97 = 8, and 97 - 8 = 89, so the DOMAIN.md example
    # 279035121518989 carries the right key.
    assert reference_key("2790351215189") == 89
    assert validate_ins("279035121518989") == "279035121518989"


def test_corsican_numbers() -> None:
    nir_a, nir_b = "185012A123456", "185012B123456"
    key_a = 97 - int("1850119123456") % 97
    key_b = 97 - int("1850118123456") % 97
    assert validate_ins(f"{nir_a}{key_a:02d}") == f"{nir_a}{key_a:02d}"
    assert validate_ins(f"{nir_b.lower()}{key_b:02d}") == f"{nir_b}{key_b:02d}"


@pytest.mark.parametrize(
    ("value", "reason", "message"),
    [
        ("27903512151898", InsInvalidReason.WRONG_LENGTH, "INS must be 15 characters, got 14"),
        (" 279035121518989", InsInvalidReason.WRONG_LENGTH, "INS must be 15 characters, got 16"),
        ("279035121518989 ", InsInvalidReason.WRONG_LENGTH, "INS must be 15 characters, got 16"),
        ("", InsInvalidReason.WRONG_LENGTH, "INS must be 15 characters, got 0"),
        ("27903512 518989", InsInvalidReason.BAD_CHARACTERS, None),
        ("2790351215189AB", InsInvalidReason.BAD_CHARACTERS, None),
        ("279035121518998", InsInvalidReason.WRONG_KEY, "INS key is 98, expected 89"),
    ],
)
def test_rejections_name_their_reason(
    value: str, reason: InsInvalidReason, message: str | None
) -> None:
    with pytest.raises(InsError) as caught:
        validate_ins(value)
    assert caught.value.reason is reason
    assert isinstance(caught.value, ValueError)
    if message is not None:
        assert str(caught.value) == f"{reason.value}: {message}"


def test_ins_key_refuses_wrong_length() -> None:
    with pytest.raises(InsError) as caught:
        ins_key("123")
    assert caught.value.reason is InsInvalidReason.WRONG_LENGTH


class _Patient(BaseModel):
    ins: Ins


def test_pydantic_type_normalises_and_reports_reason() -> None:
    key = 97 - int("1850119123456") % 97
    assert _Patient(ins=f"185012a123456{key:02d}").ins == f"185012A123456{key:02d}"
    with pytest.raises(ValidationError) as caught:
        _Patient(ins="279035121518988")
    error = caught.value.errors()[0]
    assert error["loc"] == ("ins",)
    assert isinstance(error["ctx"]["error"], InsError)
    assert error["ctx"]["error"].reason is InsInvalidReason.WRONG_KEY
    assert "wrong_key: " in error["msg"]
