"""A complete two-party BgZ Notified Pull over real loopback mTLS with the test PKI.

Sender GtK (URA 11111111): Notification sender, token endpoint (twiin.auth TokenEndpoint:
JWT-bearer grant with the authorization base, client assertions checked against the test UZI
PKI, certificate-bound tokens), and the pull guard in
front of an in-memory STU3 store holding BgZ data of two patients. Receiver GtK (URA 22222222):
Task endpoint (accept) and the puller. Addressing is a bilateral StaticAddressBook (plateau 1-2);
the sender gets a client_credentials token at the receiver's token endpoint to POST and cancel
the Notification Task.
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack

import anyio
import pytest

from twiin import naming
from twiin._http import client_ssl_context, create_async_client, create_client, server_ssl_context
from twiin.addressing import StaticAddressBook
from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.auth import AssertionSigner, ClientCredentialsAuth, JwtBearerAuth
from twiin.auth.server import AssertionPolicy, MemoryAuthorizationBaseStore, TokenEndpoint, TokenIssuer
from twiin.consent import LocalConsentRegister, ProfessionalId
from twiin.errors import NotAuthorizedError, NotificationCancelled, TokenRequestError
from twiin.exchange.notified_pull import (
    BGZ_SERVER_PAYLOAD,
    NOTIFICATION_PAYLOAD,
    AsyncPuller,
    IssuedTokenVerifier,
    NotificationAccess,
    NotificationReceiver,
    NotificationSender,
    PartyId,
    PullCore,
    Puller,
    PullServer,
    SenderCore,
    consent_check,
)
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura
from twiin.testing.bgz_data import patient_store, seed_bgz
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.pki import TestPKI
from twiin.testing.router import Router
from twiin.testing.server import serve
from twiin.usecases import bgz

pytestmark = pytest.mark.e2e

SENDER, RECEIVER = Ura("11111111"), Ura("22222222")
PATIENT, OTHER = Bsn("999999151"), Bsn("999998456")


def address_book(receiver_base, sender_base):
    return StaticAddressBook({"organization": [
        {"ura": RECEIVER.value, "name": "Receiver", "endpoint": [
            {"address": receiver_base, "payload_types": [NOTIFICATION_PAYLOAD.code]}]},
        {"ura": SENDER.value, "name": "Sender", "endpoint": [
            {"address": sender_base, "payload_types": [BGZ_SERVER_PAYLOAD.code], "fhir_version": "STU3"}]},
    ]})  # fmt: skip


@pytest.fixture(scope="module")
def pki():
    return TestPKI(key_type="ec256")


@pytest.fixture(scope="module")
def certs(pki):
    return {
        "sender": pki.issue_server(ura=SENDER.value, uzi_number="900000001", key_type="ec256"),
        "receiver": pki.issue_server(ura=RECEIVER.value, uzi_number="900000002", key_type="ec256"),
    }


class Network:
    """Both GtKs running on loopback for one test."""

    def __init__(self, pki, certs, stack: ExitStack, *, concurrency=8):
        trust = pki.trust_anchors
        self.pki = pki
        self.sender_creds, self.receiver_creds = (
            certs["sender"].credentials(),
            certs["receiver"].credentials(),
        )
        self.sender_audit, self.receiver_audit = MemorySink(), MemorySink()
        key = Pseudonymizer(b"e2e-pseudonym-key-0123456789")
        sender_auditor = Auditor(self.sender_audit, key, "sender-gtk", SENDER)
        receiver_auditor = Auditor(self.receiver_audit, key, "receiver-gtk", RECEIVER)

        self.store = MemoryFhirStore()
        seed_bgz(self.store, PATIENT, "p1")
        seed_bgz(self.store, OTHER, "p2", conditions=3)
        self.store.create(
            {"resourceType": "Task", "id": "wf-1", "status": "in-progress", "intent": "order"}, id="wf-1"
        )
        self.consent = LocalConsentRegister()
        self.consent.record_consent(PATIENT)
        self.bases = MemoryAuthorizationBaseStore()
        self.served = 0
        self.on_serve = None
        fhir = FhirStoreServer(self.store, FhirVersion.STU3, base_path="/fhir")
        store = patient_store(fhir)

        def counting_store(request, patient):
            self.served += 1
            if self.on_serve:
                self.on_serve(self.served)
            return store(request, patient)

        holder = {}

        def token_endpoint(request):
            return holder["tokens"].handle(request)

        def guard(request):
            return holder["guard"].serve_pull(request)

        sender_tls = server_ssl_context(self.sender_creds, trust)
        self.sender_server = stack.enter_context(
            serve(Router({"/fhir": guard, "/token": token_endpoint}), sender_tls)
        )
        self.token_url = self.sender_server.url("token")
        policy = AssertionPolicy(
            audience=self.token_url, trust=trust, check_revocation=False,
            intermediates=(pki.intermediate.certificate,),
        )  # fmt: skip
        issuer = TokenIssuer(AssertionSigner(self.sender_creds), issuer=self.token_url)
        holder["tokens"] = TokenEndpoint(issuer=issuer, policy=policy, store=self.bases)
        check = consent_check(
            self.consent, holder_type=ProviderType("Z3"), requester_type=ProviderType("Z3"),
            professional=ProfessionalId(naming.UZI_OID, "900000002"), role=RoleCode("01.015"),
        )  # fmt: skip
        holder["guard"] = self.guard = PullServer(
            SENDER, tokens=IssuedTokenVerifier(issuer, self.bases), bases=self.bases, consent=check, store=counting_store,
            base_path="/fhir", auditor=sender_auditor,
        )  # fmt: skip

        self.accepted = []

        def task_endpoint(request):
            notification, answer = self.receiver.accept(request)
            if notification is not None:
                self.accepted.append(notification)
            return answer

        def receiver_token(request):
            return holder["receiver_tokens"].handle(request)

        receiver_tls = server_ssl_context(self.receiver_creds, trust)
        self.receiver_server = stack.enter_context(
            serve(Router({"/fhir": task_endpoint, "/token": receiver_token}), receiver_tls)
        )
        receiver_token_url = self.receiver_server.url("token")
        receiver_issuer = TokenIssuer(AssertionSigner(self.receiver_creds), issuer=receiver_token_url)
        receiver_policy = AssertionPolicy(
            audience=receiver_token_url, trust=trust, check_revocation=False,
            intermediates=(pki.intermediate.certificate,),
        )  # fmt: skip
        holder["receiver_tokens"] = TokenEndpoint(issuer=receiver_issuer, policy=receiver_policy)
        self.receiver = NotificationReceiver(
            RECEIVER, auditor=receiver_auditor, access=NotificationAccess(receiver_issuer)
        )
        self.notify_auths = []

        def notify_auth(receiver, endpoint):
            auth = ClientCredentialsAuth(receiver_token_url, self.sender_creds, client_id=SENDER.value)
            self.notify_auths.append(auth)
            return auth

        resolver = address_book(self.receiver_server.url("fhir"), self.sender_server.url("fhir"))
        sender_core = SenderCore(SENDER, PartyId("urn:ietf:rfc:3986", "urn:oid:2.16.840.1.113883.2.4.3.164.2.1"),
                                 resolver, self.bases, auditor=sender_auditor, auth_for=notify_auth)  # fmt: skip
        self.sender = stack.enter_context(
            NotificationSender(
                sender_core, client=create_client(ssl_context=client_ssl_context(self.sender_creds, trust))
            )
        )
        self.auths = []

        def auth_for(task, base_url):
            auth = JwtBearerAuth(self.token_url, self.receiver_creds, client_id=RECEIVER.value,
                                 authorization_base=task.authorization_base)  # fmt: skip
            self.auths.append(auth)
            return auth

        self.pull_core = PullCore(resolver, auth_for, auditor=receiver_auditor, concurrency=concurrency)
        self.receiver_tls_client = client_ssl_context(self.receiver_creds, trust)
        self.puller = stack.enter_context(
            Puller(self.pull_core, client=create_client(ssl_context=self.receiver_tls_client))
        )


@pytest.fixture
def net(pki, certs):
    with ExitStack() as stack:
        yield Network(pki, certs, stack)


def _notify(net):
    receipt = net.sender.notify(
        RECEIVER,
        PATIENT,
        bgz.QUERIES,
        reads=["Observation/p1-lab"],
        based_on="Task/wf-1",
        get_workflow_task=True,
    )
    assert receipt.status == 201
    assert len(net.accepted) == 1
    return receipt, net.accepted[0]


def _check_complete(result, notification):
    assert result.ok, [(r.step.target, r.error) for r in result.failures]
    assert result.workflow_task["id"] == "wf-1"
    queries = [r for r in result.results if r.step.kind == "query"]
    assert [r.step.target for r in queries] == [q.query for q in bgz.QUERIES]
    for r in queries:
        assert r.resources, r.step.target
    conditions = result.for_query("Condition")
    assert len(conditions.pages) == 2
    assert len([c for c in conditions.resources if c["resourceType"] == "Condition"]) == 60
    patient = result.for_query(bgz.QUERIES[0].query)
    assert {r["resourceType"] for r in patient.resources} == {"Patient", "Practitioner"}
    meds = result.for_query(bgz.QUERIES[13].query)
    assert {r["resourceType"] for r in meds.resources} == {"MedicationStatement", "Medication"}
    ids = {r["id"] for r in result.resources()}
    assert not any(i.startswith("p2") for i in ids), "another patient's data leaked"
    assert "p1-lab" in ids


def test_complete_bgz_notified_pull_sync(net):
    receipt, notification = _notify(net)
    assert notification.task.authorization_base == receipt.authorization_base.value
    result = net.puller.pull(notification)
    _check_complete(result, notification)
    assert sum(a.token_requests for a in net.auths) == 1
    assert net.notify_auths[0].token_requests == 1
    sender_actions = net.sender_audit.actions()
    assert sender_actions.count("notified-pull.serve") == net.served == 32
    assert "notified-pull.notify" in sender_actions
    receiver_actions = net.receiver_audit.actions()
    assert receiver_actions[0] == "notified-pull.accept"
    assert receiver_actions.count("notified-pull.query") == 29
    assert receiver_actions[-1] == "notified-pull.pull"
    dump = json.dumps([e.to_dict() for e in net.sender_audit.events + net.receiver_audit.events])
    assert PATIENT.value not in dump
    assert receipt.authorization_base.value not in dump


def test_complete_bgz_notified_pull_async(net):
    _, notification = _notify(net)

    async def run():
        client = create_async_client(ssl_context=net.receiver_tls_client)
        async with AsyncPuller(net.pull_core, client=client) as puller:
            return await puller.pull(notification)

    result = anyio.run(run)
    _check_complete(result, notification)


def test_consent_deny_stops_the_pull(net):
    net.consent.record_objection(PATIENT)
    _, notification = _notify(net)
    result = net.puller.pull(notification)
    assert not result.ok
    queries = [r for r in result.results if r.step.kind == "query"]
    assert all(isinstance(r.error, NotAuthorizedError) and r.error.status == 403 for r in queries)
    assert all(r.resources == () for r in queries)
    assert net.served == 0
    denials = [
        e for e in net.sender_audit.events if e.action == "notified-pull.serve" and e.outcome == "denied"
    ]
    assert denials
    assert all(e.detail == "no consent" for e in denials)


def test_cancellation_revokes_access_mid_way(net):
    net.pull_core.concurrency = 1
    receipt, notification = _notify(net)
    cancelled = threading.Event()

    def cancel_after_five(count):
        if count == 5 and not cancelled.is_set():
            cancelled.set()
            assert net.sender.cancel(receipt) == 200

    net.on_serve = cancel_after_five
    with pytest.raises(NotificationCancelled) as err:
        net.puller.pull(notification)
    partial = err.value.partial
    ok = [r for r in partial.results if r.ok]
    assert 4 <= len(ok) <= 5
    assert all(r.cancelled for r in partial.failures)
    assert net.served == 5
    stored = net.receiver.inbox.get(notification.task.identifier_token)
    assert stored.cancelled
    with pytest.raises(NotificationCancelled):
        net.puller.pull(stored)


def test_requests_outside_the_authorization_base_are_refused(net):
    _, notification = _notify(net)
    auth = JwtBearerAuth(net.token_url, net.receiver_creds, client_id=RECEIVER.value,
                         authorization_base=notification.task.authorization_base)  # fmt: skip
    base = net.sender_server.url("fhir")
    with create_client(ssl_context=net.receiver_tls_client, auth=auth) as client:
        assert client.get(f"{base}/Condition").status_code == 200
        for target in (
            "Observation/p2-lab",
            "Condition?patient=Patient/p2",
            "Immunization?status=not-done",
            "MedicationRequest",
            "Patient/p2",
        ):
            response = client.get(f"{base}/{target}")
            assert response.status_code == 403, target
            body = response.json()
            assert body["resourceType"] == "OperationOutcome"
            assert "entry" not in body
    with create_client(ssl_context=net.receiver_tls_client) as client:
        assert client.get(f"{base}/Condition").status_code == 401


def test_token_request_with_someone_elses_authorization_base_is_refused(net, pki):
    _, notification = _notify(net)
    intruder = pki.issue_server(ura="33333333", uzi_number="900000009", key_type="ec256").credentials()
    auth = JwtBearerAuth(net.token_url, intruder, client_id="33333333",
                         authorization_base=notification.task.authorization_base)  # fmt: skip
    tls = client_ssl_context(intruder, pki.trust_anchors)
    with create_client(ssl_context=tls, auth=auth) as client:
        with pytest.raises(TokenRequestError) as err:
            client.get(net.sender_server.url("fhir") + "/Condition")
    assert err.value.error == "invalid_grant"
    assert net.served == 0


def test_notification_endpoint_needs_the_senders_token(net):
    from twiin.exchange.notified_pull import build_notification_task

    task = build_notification_task(sender=SENDER, receiver=RECEIVER, sending_system=PartyId("urn:x", "s"),
                                   patient=PATIENT, queries=bgz.QUERIES[:1])  # fmt: skip
    tls = client_ssl_context(net.sender_creds, net.pki.trust_anchors)
    with create_client(ssl_context=tls) as client:
        response = client.post(net.receiver_server.url("fhir/Task"), json=task.to_fhir())
    assert response.status_code == 401
    assert net.accepted == []
