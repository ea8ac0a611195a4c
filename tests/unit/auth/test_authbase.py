"""Authorization bases: issue, resolve, check, revoke."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from twiin.auth.server import MemoryAuthorizationBaseStore
from twiin.errors import AuthorizationBaseError, ConfigurationError
from twiin.identifiers import Bsn, Ura

PATIENT = Bsn("999999151")
OTHER_PATIENT = Bsn("999998286")
RECEIVER = Ura("87654321")
QUERIES = ("Patient?_include=Patient:general-practitioner", "Condition")


def test_issue_and_resolve() -> None:
    store = MemoryAuthorizationBaseStore()
    base = store.issue(PATIENT, RECEIVER, QUERIES, ttl=timedelta(hours=1))
    assert len(base.value) >= 43  # 256 bits base64url
    resolved = store.resolve(base.value)
    assert resolved.patient == PATIENT
    assert resolved.receiver == RECEIVER
    assert resolved.queries == QUERIES
    assert resolved.id == base.id
    assert resolved.value == base.value


def test_values_unguessable_and_unique() -> None:
    store = MemoryAuthorizationBaseStore()
    values = {store.issue(PATIENT, RECEIVER, QUERIES).value for _ in range(200)}
    assert len(values) == 200
    assert all(len(v) * 6 >= 128 for v in values)
    entropy_bits = math.log2(64) * min(len(v) for v in values)
    assert entropy_bits >= 128


def test_repr_hides_value_and_bsn() -> None:
    store = MemoryAuthorizationBaseStore()
    base = store.issue(PATIENT, RECEIVER, QUERIES)
    text = repr(base) + repr(store) + str(base)
    assert base.value not in text
    assert PATIENT.value not in text
    assert "9151" not in text


def test_store_keeps_no_raw_value() -> None:
    store = MemoryAuthorizationBaseStore()
    base = store.issue(PATIENT, RECEIVER, QUERIES)
    assert all(r.value == "" for r in store._records.values())
    assert store.resolve_id(base.id).value == ""


def test_expired() -> None:
    store = MemoryAuthorizationBaseStore()
    now = datetime.now(UTC)
    base = store.issue(PATIENT, RECEIVER, QUERIES, expires_at=now + timedelta(minutes=5), now=now)
    store.resolve(base.value, now=now + timedelta(minutes=4))
    with pytest.raises(AuthorizationBaseError, match="expired"):
        store.resolve(base.value, now=now + timedelta(minutes=5))


def test_revoked() -> None:
    store = MemoryAuthorizationBaseStore()
    base = store.issue(PATIENT, RECEIVER, QUERIES)
    store.revoke(base.value)
    store.revoke(base.value)
    with pytest.raises(AuthorizationBaseError, match="revoked"):
        store.resolve(base.value)


def test_unknown_and_malformed() -> None:
    store = MemoryAuthorizationBaseStore()
    with pytest.raises(AuthorizationBaseError, match="unknown"):
        store.resolve("x" * 43)
    for bad in ("", "x" * 10_000):
        with pytest.raises(AuthorizationBaseError, match="malformed"):
            store.resolve(bad)


def test_check_receiver_patient_query() -> None:
    store = MemoryAuthorizationBaseStore()
    base = store.issue(PATIENT, RECEIVER, QUERIES)
    assert store.check(base.value, receiver=RECEIVER, patient=PATIENT, query="Condition").id == base.id
    with pytest.raises(AuthorizationBaseError, match="another organisation"):
        store.check(base.value, receiver=Ura("11111111"))
    with pytest.raises(AuthorizationBaseError, match="another patient"):
        store.check(base.value, receiver=RECEIVER, patient=OTHER_PATIENT)
    with pytest.raises(AuthorizationBaseError, match="not covered"):
        store.check(base.value, receiver=RECEIVER, query="Observation")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"queries": ()},
        {"queries": "Condition"},
        {"ttl": timedelta(seconds=-1)},
        {"ttl": timedelta(hours=1), "expires_at": datetime.now(UTC) + timedelta(hours=1)},
    ],
)
def test_issue_validation(kwargs: dict) -> None:  # type: ignore[type-arg]
    store = MemoryAuthorizationBaseStore()
    args = {"queries": QUERIES, **kwargs}
    with pytest.raises(ConfigurationError):
        store.issue(PATIENT, RECEIVER, **args)
