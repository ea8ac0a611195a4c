"""The local consent register: precedence table (IG consent.md, spec §1.1) and storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.consent.conftest import PATIENT, make_question
from twiin.consent import (
    AsyncConsentChecker,
    ConsentChecker,
    DataCategory,
    Decision,
    LocalConsentRegister,
    Purpose,
    is_allowed,
)
from twiin.consent.local import AsyncLocalConsentRegister
from twiin.errors import ConsentError
from twiin.identifiers import Bsn, ProviderType, Ura

G2, G12, G13 = DataCategory.GGC002, DataCategory.GGC012, DataCategory.GGC013
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
P = Bsn(PATIENT)

CON = "consent"
OBJ = "objection"

# (records as (kind, scope), asked category, expected decision, why)
TABLE: list[tuple[list[tuple[str, dict[str, Any]]], DataCategory, Decision, str]] = [
    ([], G2, Decision.DENY, "nothing recorded: no consent"),
    ([(CON, {})], G2, Decision.PERMIT, "blanket consent"),
    ([(OBJ, {})], G2, Decision.DENY, "blanket objection"),
    ([(CON, {}), (OBJ, {})], G2, Decision.DENY, "equal specificity: objection wins"),
    (
        [(OBJ, {}), (CON, {"requester_ura": Ura("666")})],
        G2,
        Decision.PERMIT,
        "named organisation beats blanket objection",
    ),
    (
        [(CON, {}), (OBJ, {"requester_ura": Ura("666")})],
        G2,
        Decision.DENY,
        "named objection beats blanket consent",
    ),
    (
        [(OBJ, {"requester_type": ProviderType("Z3")}), (CON, {"requester_ura": Ura("666")})],
        G2,
        Decision.PERMIT,
        "organisation beats organisation type",
    ),
    (
        [(CON, {"requester_type": ProviderType("Z3")}), (OBJ, {"requester_ura": Ura("666")})],
        G2,
        Decision.DENY,
        "organisation objection beats type consent",
    ),
    ([(OBJ, {}), (CON, {"requester_type": ProviderType("Z3")})], G2, Decision.PERMIT, "type beats anyone"),
    (
        [(CON, {"requester_type": ProviderType("Z3")}), (OBJ, {"requester_type": ProviderType("Z3")})],
        G2,
        Decision.DENY,
        "same type: objection wins",
    ),
    (
        [(CON, {"requester_ura": Ura("777")})],
        G2,
        Decision.DENY,
        "consent for another organisation does not apply",
    ),
    (
        [(CON, {"requester_type": ProviderType("V6")})],
        G2,
        Decision.DENY,
        "consent for another type does not apply",
    ),
    (
        [(OBJ, {}), (CON, {"category": G13})],
        G13,
        Decision.PERMIT,
        "category-specific consent beats blanket objection",
    ),
    ([(CON, {"category": G2})], G13, Decision.PERMIT, "GGC002 covers GGC013"),
    ([(CON, {"category": G13})], G2, Decision.DENY, "GGC013 does not cover GGC002"),
    (
        [(CON, {"category": G2}), (OBJ, {"category": G13})],
        G13,
        Decision.DENY,
        "exact category beats covering category",
    ),
    (
        [(OBJ, {"category": G2}), (CON, {"category": G13})],
        G13,
        Decision.PERMIT,
        "exact consent beats covering objection",
    ),
    (
        [(CON, {"category": G2}), (OBJ, {"category": G2})],
        G13,
        Decision.DENY,
        "same covering category: objection wins",
    ),
    (
        [(OBJ, {"category": G13}), (CON, {"requester_ura": Ura("666")})],
        G13,
        Decision.PERMIT,
        "requester specificity ranks above category specificity",
    ),
    ([(CON, {}), (OBJ, {"purpose": Purpose.TREAT})], G2, Decision.DENY, "named purpose beats any purpose"),
    (
        [(OBJ, {}), (CON, {"purpose": Purpose.TREAT})],
        G2,
        Decision.PERMIT,
        "named purpose consent beats blanket objection",
    ),
    ([(CON, {"purpose": Purpose.COC})], G2, Decision.DENY, "consent for another purpose does not apply"),
    ([(OBJ, {}), (CON, {"holder_ura": Ura("659")})], G2, Decision.PERMIT, "named holder beats any holder"),
    ([(CON, {"holder_ura": Ura("1")})], G2, Decision.DENY, "consent at another holder does not apply"),
    ([(CON, {"valid_until": NOW - timedelta(seconds=1)})], G2, Decision.DENY, "expired consent"),
    ([(CON, {"valid_from": NOW + timedelta(days=1)})], G2, Decision.DENY, "consent not yet in force"),
    (
        [(CON, {"valid_from": NOW - timedelta(days=1), "valid_until": NOW + timedelta(days=1)})],
        G2,
        Decision.PERMIT,
        "consent in force",
    ),
    (
        [(OBJ, {"requester_ura": Ura("666"), "valid_until": NOW}), (CON, {})],
        G2,
        Decision.PERMIT,
        "expired specific objection no longer applies",
    ),
]


@pytest.mark.parametrize(("records", "category", "expected", "why"), TABLE, ids=[t[3] for t in TABLE])
def test_precedence(
    records: list[tuple[str, dict[str, Any]]], category: DataCategory, expected: Decision, why: str
) -> None:
    register = LocalConsentRegister(clock=lambda: NOW)
    for kind, scope in records:
        (register.record_consent if kind == CON else register.record_objection)(P, **scope)
    decision = register.check(make_question(category))
    assert decision.decision(category) is expected, why
    assert decision.source == "local"


def test_other_patient_records_do_not_apply() -> None:
    register = LocalConsentRegister(clock=lambda: NOW)
    register.record_consent(Bsn("111222333"))
    assert not register.check(make_question()).allowed()


def test_several_categories_are_decided_separately() -> None:
    register = LocalConsentRegister(clock=lambda: NOW)
    register.record_consent(P, category=G12)
    decision = register.check(make_question(G2, G12, G13))
    assert decision.decisions == {G2: Decision.DENY, G12: Decision.PERMIT, G13: Decision.DENY}
    assert not decision.allowed()


def test_revoke_and_list(tmp_path: Path) -> None:
    path = tmp_path / "consent.sqlite"
    register = LocalConsentRegister(path, clock=lambda: NOW)
    record = register.record_consent(
        P, category=G2, requester_ura=Ura("666"), valid_until=NOW + timedelta(days=3)
    )
    register.close()
    reopened = LocalConsentRegister(path, clock=lambda: NOW)
    assert reopened.records(P) == [record]
    assert reopened.check(make_question()).allowed()
    assert reopened.revoke(record.id)
    assert not reopened.revoke(record.id)
    assert not reopened.check(make_question()).allowed()


def test_invalid_records_are_refused() -> None:
    register = LocalConsentRegister()
    with pytest.raises(ConsentError):
        register.record_consent(P, valid_from=NOW, valid_until=NOW)
    with pytest.raises(ConsentError):
        register.record_consent(P, valid_until=datetime(2030, 1, 1))  # naive time


def test_protocols_and_fail_closed() -> None:
    register = LocalConsentRegister()
    assert isinstance(register, ConsentChecker)
    assert isinstance(AsyncLocalConsentRegister(register), AsyncConsentChecker)
    register.record_consent(P)
    assert is_allowed(register, make_question())

    class Broken:
        def check(self, question: object) -> object:
            raise ConsentError("service down")

    assert is_allowed(Broken(), make_question()) is False  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_async_facade() -> None:
    register = LocalConsentRegister()
    register.record_objection(P, category=G13)
    register.record_consent(P)
    decision = await AsyncLocalConsentRegister(register).check(make_question(G2, G13))
    assert decision.decisions == {G2: Decision.PERMIT, G13: Decision.DENY}
