"""Push and Pull (direct query) between two GtKs over real loopback mTLS with the test PKI.

Our GtK (URA 11111111) pushes to and pulls from the peer GtK (URA 22222222). The peer runs a
token endpoint (client_credentials with a client assertion, certificate-bound tokens), an R4
push receiver and an STU3 BgZ server, both in-memory FHIR stores behind an access-token check.
Addressing is a bilateral StaticAddressBook, consent a LocalConsentRegister.
"""

from __future__ import annotations

import json

import anyio
import pytest

from twiin import naming
from twiin._http import client_ssl_context, create_async_client, create_client, server_ssl_context
from twiin._http.compat import httpx
from twiin.addressing import StaticAddressBook, payload_types
from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.auth import AssertionSigner, ClientCredentialsAuth
from twiin.auth.server import AssertionPolicy, TokenEndpoint, TokenIssuer, verify_access_token
from twiin.consent import LocalConsentRegister, ProfessionalId
from twiin.errors import ConsentDenied, InvalidTokenError, NotAuthorizedError, TokenRequestError
from twiin.exchange.notified_pull import consent_check
from twiin.exchange.pull import AsyncDirectPuller, DirectPullCore, DirectPuller
from twiin.exchange.push import AsyncPusher, PushCore, Pusher
from twiin.fhir import BundleBuilder
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.bgz_data import seed_bgz
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.pki import TestPKI
from twiin.testing.router import Router
from twiin.testing.server import serve
from twiin.usecases import bgz

pytestmark = pytest.mark.e2e

US, PEER = Ura("11111111"), Ura("22222222")
PATIENT, OTHER_PATIENT = Bsn("999999151"), Bsn("999998456")
PUSH_PAYLOAD = "urn:example:twiin-push-receiver"


class BadToken(httpx.Auth):
    """Presents a token the peer never issued."""

    def auth_flow(self, request):
        request.headers["Authorization"] = "Bearer not-a-token-the-peer-issued"
        yield request


class Peer:
    """The peer GtK: token endpoint, R4 push receiver and STU3 BgZ server, all on one listener."""

    def __init__(self, pki: TestPKI) -> None:
        self.pki = pki
        self.creds = pki.issue_server(ura=PEER.value, uzi_number="900000002", key_type="ec256").credentials()
        self.push_store, self.bgz_store = MemoryFhirStore(), MemoryFhirStore()
        seed_bgz(self.bgz_store, PATIENT, "p1")
        seed_bgz(self.bgz_store, OTHER_PATIENT, "p2", conditions=3)
        self.fhir_requests = 0
        self.refused = 0
        stores = {
            "/fhir": FhirStoreServer(self.push_store, FhirVersion.R4, base_path="/fhir"),
            "/bgz": FhirStoreServer(self.bgz_store, FhirVersion.STU3, base_path="/bgz"),
        }
        self._tokens: TokenEndpoint | None = None
        routes = Router({"/token": self._token, **{p: self._guarded(s) for p, s in stores.items()}})
        self._server = serve(routes, server_ssl_context(self.creds, pki.trust_anchors))

    def __enter__(self) -> Peer:
        self.running = self._server.__enter__()
        self.token_url = self.running.url("token")
        self.issuer = TokenIssuer(AssertionSigner(self.creds), issuer=self.token_url)
        policy = AssertionPolicy(
            audience=self.token_url, trust=self.pki.trust_anchors, check_revocation=False,
            intermediates=(self.pki.intermediate.certificate,),
        )  # fmt: skip
        self._tokens = TokenEndpoint(issuer=self.issuer, policy=policy)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    def _token(self, request: IncomingRequest) -> Answer:
        assert self._tokens is not None
        return self._tokens.handle(request)

    def _guarded(self, store: FhirStoreServer):
        def handle(request: IncomingRequest) -> Answer:
            self.fhir_requests += 1
            token = request.bearer_token()
            try:
                if token is None:
                    raise InvalidTokenError("no token")
                verify_access_token(token, peer_certificate=request.peer_certificate, issuer=self.issuer)
            except InvalidTokenError:
                self.refused += 1
                return Answer.outcome(401, "security", "access token refused")
            return store(request)

        return handle


@pytest.fixture(scope="module")
def pki():
    return TestPKI(key_type="ec256")


@pytest.fixture
def peer(pki):
    with Peer(pki) as running:
        yield running


@pytest.fixture
def us(pki):
    return pki.issue_server(ura=US.value, uzi_number="900000001", key_type="ec256").credentials()


@pytest.fixture
def tls(pki, us):
    return client_ssl_context(us, pki.trust_anchors)


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def auditor(sink):
    return Auditor(sink, Pseudonymizer(b"e2e-push-pull-pseudonym-key-0123"), "our-gtk", US)


@pytest.fixture
def book(peer):
    return StaticAddressBook({"organization": [{"ura": PEER.value, "name": "Peer", "endpoint": [
        {"address": peer.running.url("fhir"), "payload_types": [PUSH_PAYLOAD], "fhir_version": "R4"},
        {"address": peer.running.url("bgz"), "payload_types": [payload_types.BGZ_SERVER.code],
         "fhir_version": "STU3"},
    ]}]})  # fmt: skip


@pytest.fixture
def auths(peer, us):
    made: list[ClientCredentialsAuth] = []

    def auth_for(ura: Ura, endpoint: str) -> httpx.Auth:
        assert ura == PEER
        made.append(ClientCredentialsAuth(peer.token_url, us, client_id=US.value))
        return made[-1]

    auth_for.made = made  # type: ignore[attr-defined]
    return auth_for


@pytest.fixture
def consent():
    register = LocalConsentRegister()
    register.record_consent(PATIENT)
    return register


def _consent_check(register):
    return consent_check(
        register, holder_type=ProviderType("Z3"), requester_type=ProviderType("Z3"),
        professional=ProfessionalId(naming.UZI_OID, "900000001"), role=RoleCode("01.015"),
    )  # fmt: skip


def _transaction():
    builder = BundleBuilder("transaction", FhirVersion.R4)
    patient = builder.create({"resourceType": "Patient", "identifier": [PATIENT.to_dict()],
                              "name": [{"family": "Test"}]})  # fmt: skip
    observation = builder.create({"resourceType": "Observation", "status": "final",
                                  "code": {"text": "weight"}, "subject": {"reference": patient}})  # fmt: skip
    return builder, patient, observation


def test_push_transaction_lands_in_the_receivers_store(peer, book, auths, tls, auditor, sink):
    builder, patient_url, observation_url = _transaction()
    core = PushCore(US, book, auth_for=auths, auditor=auditor)
    with Pusher(core, client=create_client(ssl_context=tls)) as pusher:
        receipt = pusher.push(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)
    assert receipt.ok
    assert receipt.endpoint == peer.running.url("fhir")
    assert [e.status for e in receipt.entries] == [201, 201]
    stored = peer.push_store.search("Patient", [("identifier", PATIENT.to_token())])
    assert [p["id"] for p in stored] == [receipt.by_full_url(patient_url).id]
    observation = peer.push_store.current("Observation", receipt.by_full_url(observation_url).id)
    assert observation is not None
    assert observation.resource["code"]["text"] == "weight"
    assert auths.made[0].token_requests == 1
    assert sink.actions() == ["push.send"]
    assert PATIENT.value not in json.dumps(sink.events[0].to_dict())


def test_push_async(peer, book, auths, tls):
    builder, patient_url, _ = _transaction()

    async def run():
        core = PushCore(US, book, auth_for=auths)
        async with AsyncPusher(core, client=create_async_client(ssl_context=tls)) as pusher:
            return await pusher.push(PEER, builder, PUSH_PAYLOAD)

    receipt = anyio.run(run)
    assert receipt.ok
    assert peer.push_store.current("Patient", receipt.by_full_url(patient_url).id) is not None


def test_push_with_a_wrong_token_is_refused_typed(peer, book, tls, auditor, sink):
    core = PushCore(US, book, auth_for=lambda ura, url: BadToken(), auditor=auditor)
    with Pusher(core, client=create_client(ssl_context=tls)) as pusher, pytest.raises(NotAuthorizedError) as err:
        pusher.push(PEER, _transaction()[0], PUSH_PAYLOAD)
    assert err.value.status == 401
    assert peer.refused == 1
    assert peer.push_store.all_current("Patient") == []
    assert sink.events[-1].outcome == "failure"


def test_pull_with_consent_returns_the_patients_bgz_data(peer, book, auths, tls, consent, auditor, sink):
    core = DirectPullCore(US, book, _consent_check(consent), auth_for=auths, auditor=auditor)
    with DirectPuller(core, client=create_client(ssl_context=tls)) as puller:
        result = puller.pull(PEER, PATIENT, bgz.QUERIES)
    assert result.ok, [(f.query.query, f.error) for f in result.failures]
    assert result.version is FhirVersion.STU3
    assert len(result.results) == 29
    assert all(r.resources for r in result.results), [r.query.query for r in result.results if not r.resources]
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


def test_pull_async(peer, book, auths, tls, consent):
    core = DirectPullCore(US, book, _consent_check(consent), auth_for=auths)

    async def run():
        async with AsyncDirectPuller(core, client=create_async_client(ssl_context=tls)) as puller:
            return await puller.pull(PEER, PATIENT, bgz.QUERIES[:5])

    result = anyio.run(run)
    assert result.ok
    assert {r["id"] for r in result.resources("Patient")} == {"p1"}


def test_pull_with_consent_deny_sends_no_request(peer, book, auths, tls, consent, auditor, sink):
    consent.record_objection(PATIENT)
    core = DirectPullCore(US, book, _consent_check(consent), auth_for=auths, auditor=auditor)
    with DirectPuller(core, client=create_client(ssl_context=tls)) as puller:
        result = puller.pull(PEER, PATIENT, bgz.QUERIES)
    assert result.denied
    assert peer.fhir_requests == 0
    assert auths.made == []
    with pytest.raises(ConsentDenied):
        result.raise_for_errors()
    assert sink.events[-1].outcome == "denied"


def test_pull_for_a_patient_without_consent_sends_no_request(peer, book, auths, tls, consent):
    core = DirectPullCore(US, book, _consent_check(consent), auth_for=auths)
    with DirectPuller(core, client=create_client(ssl_context=tls)) as puller:
        result = puller.pull(PEER, OTHER_PATIENT, ["Condition"])
    assert result.denied
    assert peer.fhir_requests == 0


def test_pull_with_a_wrong_token_is_a_typed_error(peer, book, tls, consent):
    core = DirectPullCore(US, book, _consent_check(consent), auth_for=lambda ura, url: BadToken())
    with DirectPuller(core, client=create_client(ssl_context=tls)) as puller:
        result = puller.pull(PEER, PATIENT, ["Condition", "Flag"])
    assert all(isinstance(r.error, NotAuthorizedError) for r in result.results)
    assert peer.refused == 2
    with pytest.raises(NotAuthorizedError):
        result.raise_for_errors()


def test_pull_token_refused_by_the_token_endpoint_is_typed(peer, book, tls, consent, us):
    def wrong_client(ura: Ura, endpoint: str) -> httpx.Auth:
        return ClientCredentialsAuth(peer.token_url, us, client_id="33333333")

    core = DirectPullCore(US, book, _consent_check(consent), auth_for=wrong_client)
    with DirectPuller(core, client=create_client(ssl_context=tls)) as puller:
        result = puller.pull(PEER, PATIENT, ["Condition"])
    assert isinstance(result.results[0].error, TokenRequestError)
    assert peer.fhir_requests == 0
