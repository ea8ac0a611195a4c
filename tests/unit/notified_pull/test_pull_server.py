"""Pull guard: the authorization-base enforcement table (token, base, peer, patient, request, consent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.auth.server import MemoryAuthorizationBaseStore
from twiin.errors import InvalidTokenError
from twiin.exchange.notified_pull import AccessGrant, PullServer
from twiin.exchange.notified_pull.pull_server import OUTCOME_SYSTEM, REVOKED_CODE
from twiin.identifiers import Bsn, Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import TestPKI
from twiin.usecases import bgz

from .conftest import PATIENT, RECEIVER, SENDER

OTHER_PATIENT = Bsn("999998456")
BASE = "https://sender.example/fhir"


@pytest.fixture(scope="module")
def certs():
    pki = TestPKI(key_type="ec256")
    return {
        "receiver": pki.issue_server(ura=RECEIVER.value, key_type="ec256").credentials().certificate,
        "other": pki.issue_server(ura="33333333", uzi_number="900000003", key_type="ec256")
        .credentials()
        .certificate,
    }


class Tokens:
    """Maps bearer strings to grants (the token service is tested end to end)."""

    def __init__(self, bases):
        self.bases = bases
        self.grants = {}

    def verify(self, token, peer_certificate):
        if token not in self.grants:
            raise InvalidTokenError("unknown")
        grant = self.grants[token]
        self.bases.resolve_id(grant.authorization_base_id)
        return grant


class Setup:
    def __init__(self, certs):
        self.bases = MemoryAuthorizationBaseStore()
        self.tokens = Tokens(self.bases)
        self.consent_answers = []
        self.permit = True
        self.sink = MemorySink()
        self.store_calls = []

        def consent(question):
            self.consent_answers.append(question)
            if self.permit == "boom":
                raise RuntimeError("consent service down")
            return self.permit

        def store(request, patient):
            self.store_calls.append((request.url, patient))
            bundle = {
                "resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resourceType": "Condition", "id": "c1"}}],
                "link": [{"relation": "next", "url": f"{BASE}?_getpages=tok1&_getpagesoffset=50"}],
            }  # fmt: skip
            return Answer.fhir(200, bundle)

        auditor = Auditor(self.sink, Pseudonymizer(b"x" * 32), "sender", SENDER)
        self.server = PullServer(
            SENDER, tokens=self.tokens, bases=self.bases, consent=consent, store=store, auditor=auditor
        )
        self.certs = certs
        self.base = self.bases.issue(
            PATIENT, RECEIVER, ["Observation/lab-1", *(q.query for q in bgz.QUERIES)], ttl=timedelta(hours=1)
        )
        self.tokens.grants["good"] = AccessGrant(RECEIVER, self.base.id, PATIENT)

    def get(self, target, token="good", cert="receiver", method="GET"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = IncomingRequest(method, f"{BASE}/{target}", headers, b"", self.certs.get(cert))
        return self.server.serve_pull(request)


@pytest.fixture
def s(certs):
    return Setup(certs)


def _refused(answer, status=403):
    assert answer.status == status
    body = json.loads(answer.body)
    assert body["resourceType"] == "OperationOutcome"
    return body


@pytest.mark.parametrize(
    "target", ["Observation/lab-1", "Condition", "Immunization?status=completed", bgz.QUERIES[2].query]
)
def test_allowed_requests_reach_the_store_with_the_bases_patient(s, target):
    answer = s.get(target)
    assert answer.status == 200
    assert s.store_calls[-1][1] == PATIENT
    assert s.consent_answers[-1].requester == RECEIVER
    assert s.consent_answers[-1].holder == SENDER


ENFORCEMENT = [
    ("Observation/lab-2", "other resource"),
    ("Immunization?status=entered-in-error", "changed parameter"),
    ("Condition?patient=Patient/other", "other patient by parameter"),
    ("Patient/other", "other patient's record"),
    ("MedicationRequest", "search not in the base"),
]


@pytest.mark.parametrize(("target", "why"), ENFORCEMENT, ids=[e[1] for e in ENFORCEMENT])
def test_requests_outside_the_base_get_403_and_no_data(s, target, why):
    _refused(s.get(target))
    assert s.store_calls == []
    assert s.sink.events[-1].outcome == "denied"


def test_writes_are_refused(s):
    _refused(s.get("Condition", method="POST"))
    _refused(s.get("Observation/lab-1", method="DELETE"))


def test_token_for_another_patient_is_refused(s):
    s.tokens.grants["other"] = AccessGrant(RECEIVER, s.base.id, OTHER_PATIENT)
    _refused(s.get("Condition", token="other"))
    assert s.store_calls == []


def test_peer_that_is_not_the_receiver_is_refused(s):
    _refused(s.get("Condition", cert="other"))
    s.tokens.grants["stolen"] = AccessGrant(Ura("33333333"), s.base.id, PATIENT)
    _refused(s.get("Condition", token="stolen", cert="other"))
    assert s.store_calls == []


def test_missing_or_unknown_token_is_401(s):
    _refused(s.get("Condition", token=None), 401)
    answer = _refused(s.get("Condition", token="forged"), 401)
    assert answer["issue"][0]["code"] == "login"


def test_revoked_base_is_refused_with_the_revoked_marker(s):
    assert s.get("Condition").status == 200
    s.bases.revoke_id(s.base.id)
    body = _refused(s.get("Condition"))
    assert body["issue"][0]["details"]["coding"][0] == {"system": OUTCOME_SYSTEM, "code": REVOKED_CODE}


def test_expired_base_is_refused(s):
    old = s.bases.issue(PATIENT, RECEIVER, ["Condition"], ttl=timedelta(hours=1),
                        now=datetime.now(UTC) - timedelta(hours=2))  # fmt: skip
    s.tokens.grants["old"] = AccessGrant(RECEIVER, old.id, PATIENT)
    _refused(s.get("Condition", token="old"))
    assert s.store_calls == []


def test_consent_deny_and_consent_failure_both_refuse(s):
    s.permit = False
    _refused(s.get("Condition"))
    s.permit = "boom"
    _refused(s.get("Condition"))
    assert s.store_calls == []


def test_paging_links_from_the_store_are_allowed_afterwards(s):
    assert s.get("?_getpages=tok1&_getpagesoffset=50").status == 403
    assert s.get("Condition").status == 200
    assert s.get("?_getpages=tok1&_getpagesoffset=50").status == 200
    assert s.get("?_getpages=tok2&_getpagesoffset=50").status == 403


def test_audit_never_holds_the_bsn(s):
    s.get("Condition")
    s.get("Patient/other")
    dump = json.dumps([e.to_dict() for e in s.sink.events])
    assert PATIENT.value not in dump
