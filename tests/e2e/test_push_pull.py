"""Push and Pull (direct query) between two GtKs over real loopback mTLS with the test PKI.

Runs :class:`twiin.testing.push_pull.PushPullNetwork`: the peer GtK (URA 22222222) with a token
endpoint (client_credentials with a client assertion, certificate-bound tokens), an R4 push
receiver and an STU3 BgZ server, both in-memory FHIR stores behind an access-token check; our GtK
(URA 11111111) pushes to it and pulls from it. Addressing is a bilateral StaticAddressBook,
consent a LocalConsentRegister.
"""

from __future__ import annotations

import json

import anyio
import pytest

from twiin._http.compat import httpx
from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.auth import ClientCredentialsAuth
from twiin.errors import ConsentDenied, NotAuthorizedError, TokenRequestError
from twiin.exchange.pull import AsyncDirectPuller, DirectPullCore, DirectPuller
from twiin.exchange.push import AsyncPusher, PushCore, Pusher
from twiin.fhir import BundleBuilder
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.testing.pki import TestPKI
from twiin.testing.push_pull import OTHER_PATIENT, PATIENT, PEER, PUSH_PAYLOAD, US, PushPullNetwork
from twiin.usecases import bgz

pytestmark = pytest.mark.e2e


class BadToken(httpx.Auth):
    """Presents a token the peer never issued."""

    def auth_flow(self, request):
        request.headers["Authorization"] = "Bearer not-a-token-the-peer-issued"
        yield request


@pytest.fixture(scope="module")
def pki():
    return TestPKI(key_type="ec256")


@pytest.fixture
def net(pki):
    with PushPullNetwork(pki) as network:
        yield network


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def auditor(sink):
    return Auditor(sink, Pseudonymizer(b"e2e-push-pull-pseudonym-key-0123"), "our-gtk", US)


@pytest.fixture
def auths(net):
    made: list[ClientCredentialsAuth] = []

    def auth_for(ura: Ura, endpoint: str) -> httpx.Auth:
        assert ura == PEER
        made.append(net.auth_for(ura, endpoint))
        return made[-1]

    auth_for.made = made  # type: ignore[attr-defined]
    return auth_for


def _transaction():
    builder = BundleBuilder("transaction", FhirVersion.R4)
    patient = builder.create({"resourceType": "Patient", "identifier": [PATIENT.to_dict()],
                              "name": [{"family": "Test"}]})  # fmt: skip
    observation = builder.create({"resourceType": "Observation", "status": "final",
                                  "code": {"text": "weight"}, "subject": {"reference": patient}})  # fmt: skip
    return builder, patient, observation


def test_push_transaction_lands_in_the_receivers_store(net, auths, auditor, sink):
    builder, patient_url, observation_url = _transaction()
    core = PushCore(US, net.address_book, auth_for=auths, auditor=auditor, consent=None)
    with Pusher(core, ssl_context=net.tls) as pusher:
        receipt = pusher.push(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)
    assert receipt.ok
    assert receipt.endpoint == net.server.url("fhir")
    assert [e.status for e in receipt.entries] == [201, 201]
    stored = net.push_store.search("Patient", [("identifier", PATIENT.to_token())])
    assert [p["id"] for p in stored] == [receipt.by_full_url(patient_url).id]
    observation = net.push_store.current("Observation", receipt.by_full_url(observation_url).id)
    assert observation is not None
    assert observation.resource["code"]["text"] == "weight"
    assert auths.made[0].token_requests == 1
    assert sink.actions() == ["push.send"]
    assert PATIENT.value not in json.dumps(sink.events[0].to_dict())


def test_push_async(net, auths):
    builder, patient_url, _ = _transaction()

    async def run():
        core = PushCore(US, net.address_book, auth_for=auths, consent=None)
        async with AsyncPusher(core, ssl_context=net.tls) as pusher:
            return await pusher.push(PEER, builder, PUSH_PAYLOAD)

    receipt = anyio.run(run)
    assert receipt.ok
    assert net.push_store.current("Patient", receipt.by_full_url(patient_url).id) is not None


def test_push_with_a_wrong_token_is_refused_typed(net, auditor, sink):
    core = PushCore(US, net.address_book, auth_for=lambda ura, url: BadToken(), auditor=auditor, consent=None)
    with (
        Pusher(core, ssl_context=net.tls) as pusher,
        pytest.raises(NotAuthorizedError) as err,
    ):
        pusher.push(PEER, _transaction()[0], PUSH_PAYLOAD)
    assert err.value.status == 401
    assert net.refused == 1
    assert net.push_store.all_current("Patient") == []
    assert sink.events[-1].outcome == "failure"


def test_pull_with_consent_returns_the_patients_bgz_data(net, auths, auditor, sink):
    core = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=auths, auditor=auditor)
    with DirectPuller(core, ssl_context=net.tls) as puller:
        result = puller.pull(PEER, PATIENT, bgz.QUERIES)
    assert result.ok, [(f.query.query, f.error) for f in result.failures]
    assert result.version is FhirVersion.STU3
    assert len(result.results) == 29
    assert all(r.resources for r in result.results), [
        r.query.query for r in result.results if not r.resources
    ]
    conditions = result.for_query("Condition")
    assert len(conditions.pages) == 2
    assert len([c for c in conditions.resources if c["resourceType"] == "Condition"]) == 60
    ids = {r["id"] for r in result.resources()}
    assert "p1" in ids
    assert not any(i.startswith("p2") for i in ids), "another patient's data leaked"
    assert sum(a.token_requests for a in auths.made) == 1
    assert sink.actions().count("pull.query") == 29
    dump = json.dumps([e.to_dict() for e in sink.events])
    assert PATIENT.value not in dump


def test_pull_async(net, auths):
    core = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=auths)

    async def run():
        async with AsyncDirectPuller(core, ssl_context=net.tls) as puller:
            return await puller.pull(PEER, PATIENT, bgz.QUERIES[:5])

    result = anyio.run(run)
    assert result.ok
    assert {r["id"] for r in result.resources("Patient")} == {"p1"}


def test_pull_with_consent_deny_sends_no_request(net, auths, auditor, sink):
    net.consent.record_objection(PATIENT)
    core = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=auths, auditor=auditor)
    with DirectPuller(core, ssl_context=net.tls) as puller:
        result = puller.pull(PEER, PATIENT, bgz.QUERIES)
    assert result.denied
    assert net.fhir_requests == 0
    assert auths.made == []
    with pytest.raises(ConsentDenied):
        result.raise_for_errors()
    assert sink.events[-1].outcome == "denied"


def test_pull_for_a_patient_without_consent_sends_no_request(net, auths):
    core = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=auths)
    with DirectPuller(core, ssl_context=net.tls) as puller:
        result = puller.pull(PEER, OTHER_PATIENT, ["Condition"])
    assert result.denied
    assert net.fhir_requests == 0


def test_pull_with_a_wrong_token_is_a_typed_error(net):
    core = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=lambda ura, url: BadToken())
    with DirectPuller(core, ssl_context=net.tls) as puller:
        result = puller.pull(PEER, PATIENT, ["Condition", "Flag"])
    assert all(isinstance(r.error, NotAuthorizedError) for r in result.results)
    assert net.refused == 2
    with pytest.raises(NotAuthorizedError):
        result.raise_for_errors()


def test_pull_token_refused_by_the_token_endpoint_is_typed(net):
    def wrong_client(ura: Ura, endpoint: str) -> httpx.Auth:
        return ClientCredentialsAuth(net.token_url, net.our_creds, client_id="33333333")

    core = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=wrong_client)
    with DirectPuller(core, ssl_context=net.tls) as puller:
        result = puller.pull(PEER, PATIENT, ["Condition"])
    assert isinstance(result.results[0].error, TokenRequestError)
    assert net.fhir_requests == 0
