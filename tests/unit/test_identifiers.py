from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twiin import naming
from twiin.errors import InvalidIdentifier
from twiin.fhir_version import FhirVersion
from twiin.identifiers import II, AgbCode, Bsn, ProviderType, RoleCode, Ura, UziNumber, is_valid_bsn

VALID_BSNS = ["900186021", "111222333", "123456782", "176286603", "999999990", "950000012", "999999151"]
INVALID_BSNS = ["123456789", "000000000", "12345678", "1234567890", "12345678a", "", " 99999915"]


@pytest.mark.parametrize("value", VALID_BSNS)
def test_valid_bsns_are_accepted(value: str) -> None:
    assert Bsn(value).value == value
    assert is_valid_bsn(value)


@pytest.mark.parametrize("value", INVALID_BSNS)
def test_invalid_bsns_are_rejected_without_echo(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        Bsn(value)
    assert info.value.kind == "BSN"
    if len(value) >= 4:
        assert value not in str(info.value)
        assert value not in repr(info.value)


def test_bsn_never_shows_all_digits() -> None:
    bsn = Bsn("999999151")
    assert repr(bsn) == "Bsn('*****9151')"
    assert str(bsn) == "*****9151"
    assert f"{bsn}" == "*****9151"
    assert "999999151" not in repr([bsn, {"p": bsn}])


def test_bsn_is_immutable_hashable_and_picklable() -> None:
    bsn = Bsn("999999151")
    with pytest.raises(AttributeError):
        bsn._value = "111222333"  # type: ignore[misc]
    assert {bsn, Bsn("999999151")} == {bsn}
    assert pickle.loads(pickle.dumps(bsn)) == bsn
    assert bsn != "999999151"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("1", "00000001"), ("1234", "00001234"), ("87654321", "87654321"), (2222222, "02222222")],
)
def test_ura_is_zero_padded(raw: str | int, normalised: str) -> None:
    assert Ura(raw).value == normalised
    assert Ura(raw) == Ura(normalised)


@pytest.mark.parametrize("raw", ["", "123456789", "12a4", "-1", "١٢٣"])
def test_ura_rejects_bad_values(raw: str) -> None:
    with pytest.raises(InvalidIdentifier, match="URA"):
        Ura(raw)


def test_ura_accepts_oid_system_on_input() -> None:
    assert Ura.from_identifier({"system": "urn:oid:2.16.528.1.1007.3.3", "value": "42"}).value == "00000042"
    assert Ura.from_identifier({"system": naming.URA_SYSTEM, "value": "42"}) == Ura("42")
    with pytest.raises(InvalidIdentifier):
        Ura.from_identifier({"system": naming.BSN_SYSTEM, "value": "42"})


def test_uzi_accepts_both_uris() -> None:
    a = UziNumber.from_identifier({"system": "http://fhir.nl/fhir/NamingSystem/uzi", "value": "900000009"})
    b = UziNumber.from_identifier(
        {"system": "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers", "value": "900000009"}
    )
    assert a == b
    assert a.to_dict()["system"] == naming.UZI_SYSTEM


@pytest.mark.parametrize("version", list(FhirVersion))
def test_fhir_identifier_round_trip(version: FhirVersion) -> None:
    ura = Ura("87654321")
    model = ura.to_identifier(version)
    assert model.system == naming.URA_SYSTEM
    assert type(model).__module__.startswith(version.models_package)
    assert Ura.from_identifier(model) == ura


def test_ii_round_trip() -> None:
    bsn = Bsn("900186021")
    ii = bsn.to_ii()
    assert ii == II(root="2.16.840.1.113883.2.4.6.3", extension="900186021")
    assert Bsn.from_ii(ii.root, ii.extension) == bsn
    assert Ura.from_ii("urn:oid:2.16.528.1.1007.3.3", "659") == Ura("00000659")
    with pytest.raises(InvalidIdentifier):
        Ura.from_ii(naming.BSN_OID, "1")


def test_codes() -> None:
    assert RoleCode("01.015").to_coding() == {"system": naming.UZI_ROLE_SYSTEM, "code": "01.015"}
    assert ProviderType.from_coding({"system": naming.PROVIDER_TYPE_SYSTEM, "code": "Z3"}) == ProviderType(
        "Z3"
    )
    assert AgbCode("06020101").value == "06020101"
    for bad, cls in [("1.015", RoleCode), ("z3", ProviderType), ("1234567", AgbCode)]:
        with pytest.raises(InvalidIdentifier):
            cls(bad)


def test_types_are_distinct() -> None:
    assert Ura("12345678") != AgbCode("12345678")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_bsn_accepts_exactly_the_elfproef(digits: str) -> None:
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    expected = (
        digits != "000000000" and sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0
    )
    if expected:
        assert Bsn(digits).value == digits
    else:
        with pytest.raises(InvalidIdentifier):
            Bsn(digits)


@given(st.integers(min_value=0, max_value=99_999_999))
def test_ura_round_trips_any_number(n: int) -> None:
    ura = Ura(str(n))
    assert len(ura.value) == 8
    assert int(ura.value) == n
    assert Ura.from_identifier(ura.to_dict()) == ura


@given(st.text(max_size=20))
def test_identifier_constructors_raise_only_invalid_identifier(text: str) -> None:
    for cls in (Bsn, Ura, UziNumber, AgbCode, RoleCode, ProviderType):
        try:
            cls(text)
        except InvalidIdentifier:
            pass
