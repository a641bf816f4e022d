"""Patient and health actor addresses."""

import pytest
from pydantic import BaseModel, ValidationError

from mes_contracts.addresses import (
    PATIENT_DOMAIN,
    AddressError,
    AddressInvalidReason,
    HealthActorAddressStr,
    MailboxType,
    MssanteAddress,
    MssanteAddressStr,
    PatientAddress,
    PatientAddressStr,
    is_patient_address,
    parse_address,
)
from mes_contracts.ins import InsError, InsInvalidReason

INS = "279035121518989"


def test_patient_address_round_trip() -> None:
    address = PatientAddress.parse(f"{INS}@{PATIENT_DOMAIN}")
    assert address.ins == INS
    assert address.format() == str(address) == f"{INS}@patient.mssante.fr"
    assert PatientAddress.parse(address.format()) == address
    assert PatientAddress.for_ins(INS) == address


def test_patient_domain_is_case_insensitive_and_corsica_normalised() -> None:
    key = 97 - int("1850119123456") % 97
    address = parse_address(f"185012a123456{key:02d}@Patient.MSSante.FR")
    assert isinstance(address, PatientAddress)
    assert str(address) == f"185012A123456{key:02d}@patient.mssante.fr"


def test_health_actor_address_round_trip() -> None:
    address = parse_address("Dr.Martin@Hopital-Exemple.MSSANTE.fr")
    assert isinstance(address, MssanteAddress)
    # One spelling per mailbox: MSSanté treats the whole address case-insensitively.
    assert str(address) == "dr.martin@hopital-exemple.mssante.fr"
    assert MssanteAddress.parse(str(address)) == address


@pytest.mark.parametrize(
    ("ins", "reason"),
    [
        ("279035121518988", InsInvalidReason.WRONG_KEY),
        ("27903512151898", InsInvalidReason.WRONG_LENGTH),
        ("27903512151898x", InsInvalidReason.BAD_CHARACTERS),
    ],
)
def test_patient_address_with_bad_ins_carries_ins_reason(
    ins: str, reason: InsInvalidReason
) -> None:
    for parse in (parse_address, PatientAddress.parse):
        with pytest.raises(AddressError) as caught:
            parse(f"{ins}@{PATIENT_DOMAIN}")
        assert caught.value.reason is reason
        assert isinstance(caught.value.__cause__, InsError)
    with pytest.raises(InsError):
        PatientAddress.for_ins(ins)


@pytest.mark.parametrize(
    "value",
    [
        "dr.martin@hopital.mssante.fr\r\n",
        "dr.martin@hopital.mssante.fr\n",
        "dr.martin\r@hopital.mssante.fr",
        "dr martin@hopital.mssante.fr",
        " dr.martin@hopital.mssante.fr",
        "dr.martin@hopital.mssante.fr ",
        "dr.martin@hopi tal.mssante.fr",
        "dr.martin",
        "@hopital.mssante.fr",
        "dr..martin@hopital.mssante.fr",
        ".martin@hopital.mssante.fr",
        "martin.@hopital.mssante.fr",
        "a@b@hopital.mssante.fr",
        "médecin@hopital.mssante.fr",
        "x" * 65 + "@hopital.mssante.fr",
        "x@" + "a" * 250 + ".mssante.fr",
        "dr.martin@-hopital.mssante.fr",
        "dr.martin@hopital..mssante.fr",
        f"{INS}@{PATIENT_DOMAIN}\n",
    ],
)
def test_malformed_addresses(value: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_address(value)
    assert caught.value.reason is AddressInvalidReason.MALFORMED
    assert str(caught.value).startswith("malformed: ")


@pytest.mark.parametrize(
    "value",
    [
        "dr.martin@gmail.com",
        "dr.martin@mssante.fr.evil.com",
        "dr.martin@evilmssante.fr",
        "dr.martin@mssante.fr",
        f"{INS}@patient.mssante.com",
    ],
)
def test_addresses_outside_the_trust_space(value: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_address(value)
    assert caught.value.reason is AddressInvalidReason.NOT_MSSANTE


def test_limits_are_inclusive() -> None:
    assert parse_address("x" * 64 + "@hopital.mssante.fr")
    assert parse_address("o'brien+labo@cabinet.mssante.fr")


def test_health_actor_parse_refuses_patient_addresses() -> None:
    with pytest.raises(AddressError) as caught:
        MssanteAddress.parse(f"{INS}@{PATIENT_DOMAIN}")
    assert caught.value.reason is AddressInvalidReason.PATIENT_DOMAIN
    with pytest.raises(AddressError) as caught:
        PatientAddress.parse("dr.martin@hopital.mssante.fr")
    assert caught.value.reason is AddressInvalidReason.MALFORMED


def test_is_patient_address() -> None:
    assert is_patient_address(f"{INS}@{PATIENT_DOMAIN}")
    assert is_patient_address(f"{INS}@PATIENT.mssante.fr")
    # A bad INS is still addressed to a patient: it gets the "invalidé" report.
    assert is_patient_address(f"000@{PATIENT_DOMAIN}")
    assert is_patient_address(PatientAddress.for_ins(INS))
    assert not is_patient_address("dr.martin@hopital.mssante.fr")
    assert not is_patient_address(MssanteAddress.parse("dr.martin@hopital.mssante.fr"))


def test_mailbox_types() -> None:
    assert [t.value for t in MailboxType] == ["PER", "ORG", "APP", "CAB"]
    assert MailboxType("ORG") is MailboxType.ORG


class _Model(BaseModel):
    patient: PatientAddressStr
    actor: HealthActorAddressStr
    anyone: MssanteAddressStr


def test_pydantic_types_normalise() -> None:
    model = _Model(
        patient=f"{INS}@Patient.Mssante.Fr",
        actor="Dr.Martin@HOPITAL.mssante.fr",
        anyone=f"{INS}@PATIENT.mssante.fr",
    )
    assert model.patient == f"{INS}@patient.mssante.fr"
    assert model.actor == "dr.martin@hopital.mssante.fr"
    assert model.anyone == f"{INS}@patient.mssante.fr"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("patient", "279035121518988@patient.mssante.fr", "wrong_key"),
        ("actor", f"{INS}@patient.mssante.fr", "patient_domain"),
        ("anyone", "dr@gmail.com", "not_mssante"),
    ],
)
def test_pydantic_errors_start_with_code(field: str, value: str, code: str) -> None:
    fields = {
        "patient": f"{INS}@patient.mssante.fr",
        "actor": "dr@hopital.mssante.fr",
        "anyone": "dr@hopital.mssante.fr",
        field: value,
    }
    with pytest.raises(ValidationError) as caught:
        _Model(**fields)
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert error["ctx"]["error"].reason == code
    assert f"{code}: " in error["msg"]
