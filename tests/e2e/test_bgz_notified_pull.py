"""A complete two-party BgZ Notified Pull over real loopback mTLS with the test PKI.

Runs :class:`twiin.testing.notified_pull.NotifiedPullNetwork`: the sender GtK (URA 11111111)
with its token endpoint (twiin.auth TokenEndpoint: JWT-bearer grant carrying the authorization
base, client assertions checked against the test UZI PKI, certificate-bound tokens), the pull
guard in front of an in-memory STU3 store with BgZ data of two patients, and the Notification
sender; the receiver GtK (URA 22222222) with its token endpoint (client_credentials for the
sender's Task POST/PUT), Task endpoint and puller. Addressing is a bilateral StaticAddressBook,
consent a LocalConsentRegister.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import anyio
import pytest

from twiin._http import client_ssl_context, create_async_client, create_client
from twiin.auth import JwtBearerAuth
from twiin.errors import NotAuthorizedError, NotificationCancelled, TokenRequestError
from twiin.exchange.notified_pull import AsyncPuller, PartyId, build_notification_task
from twiin.testing.notified_pull import PATIENT, RECEIVER, SENDER, NotifiedPullNetwork
from twiin.testing.pki import TestPKI
from twiin.usecases import bgz

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pki():
    return TestPKI(key_type="ec256")


@pytest.fixture
def net(pki):
    with NotifiedPullNetwork(pki) as network:
        yield network


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
    assert sum(a.token_requests for a in net.pull_auths) == 1
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
    task = build_notification_task(sender=SENDER, receiver=RECEIVER, sending_system=PartyId("urn:x", "s"),
                                   patient=PATIENT, queries=bgz.QUERIES[:1])  # fmt: skip
    tls = net.sender_tls_client
    with create_client(ssl_context=tls) as client:
        response = client.post(net.receiver_server.url("fhir/Task"), json=task.to_fhir())
    assert response.status_code == 401
    assert net.accepted == []


def test_the_default_consent_register_closes_with_the_network(pki):
    with NotifiedPullNetwork(pki) as network:
        register = network.consent
    with pytest.raises(sqlite3.ProgrammingError):
        register.record_consent(PATIENT)
