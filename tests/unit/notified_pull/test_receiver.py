"""Receiver accept(): owner, TLS peer URA, expiry, cancellation, idempotency, answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.exchange.notified_pull.receiver import NotificationReceiver
from twiin.exchange.notified_pull.task import build_notification_task
from twiin.identifiers import Ura
from twiin.serving import IncomingRequest
from twiin.testing.pki import TestPKI
from twiin.usecases import bgz

from .conftest import PATIENT, RECEIVER, SENDER, defective_ta_example


@pytest.fixture(scope="module")
def pki():
    return TestPKI()


@pytest.fixture(scope="module")
def sender_cert(pki):
    return pki.issue_server(ura=SENDER.value, key_type="ec256").credentials().certificate


@pytest.fixture(scope="module")
def other_cert(pki):
    return (
        pki.issue_server(ura="33333333", uzi_number="900000002", key_type="ec256").credentials().certificate
    )


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def receiver(sink):
    auditor = Auditor(sink, Pseudonymizer(b"k" * 32), "receiver-gtk", RECEIVER)
    return NotificationReceiver(RECEIVER, auditor=auditor)


def post(task_dict, cert, content_type="application/fhir+json"):
    body = json.dumps(task_dict).encode()
    return IncomingRequest("POST", "https://r.example/fhir/Task", {"Content-Type": content_type}, body, cert)


def test_valid_notification_is_created(receiver, task, sender_cert, sink):
    notification, answer = receiver.accept(post(task.to_fhir(), sender_cert))
    assert answer.status == 201
    assert answer.headers["location"].startswith("Task/")
    body = answer.json_body()
    assert body["resourceType"] == "Task"
    assert "input" not in body
    assert notification.task == task
    assert notification.sender == SENDER
    assert sink.actions() == ["notified-pull.accept"]
    assert sink.events[0].patient_pseudonym
    assert PATIENT.value not in json.dumps(sink.events[0].to_dict())


def test_repeated_identifier_is_idempotent(receiver, task, sender_cert):
    first, a1 = receiver.accept(post(task.to_fhir(), sender_cert))
    again, a2 = receiver.accept(post(task.to_fhir(), sender_cert))
    assert (a1.status, a2.status) == (201, 200)
    assert again.duplicate
    assert again.local_id == first.local_id
    assert a1.headers["location"] == a2.headers["location"]
    assert len(receiver.inbox) == 1


def test_identifier_reused_by_another_sender_conflicts(receiver, task, sender_cert, other_cert):
    receiver.accept(post(task.to_fhir(), sender_cert))
    other = task.to_fhir()
    other["requester"]["onBehalfOf"]["identifier"]["value"] = "33333333"
    _, answer = receiver.accept(post(other, other_cert))
    assert answer.status == 409


def test_owner_must_be_us(task, sender_cert):
    receiver = NotificationReceiver(Ura("44444444"))
    notification, answer = receiver.accept(post(task.to_fhir(), sender_cert))
    assert notification is None
    assert answer.status == 403
    assert answer.json_body()["resourceType"] == "OperationOutcome"


def test_peer_certificate_ura_must_equal_on_behalf_of(receiver, task, other_cert, sink):
    notification, answer = receiver.accept(post(task.to_fhir(), other_cert))
    assert notification is None
    assert answer.status == 403
    assert sink.events[-1].outcome == "denied"


def test_missing_peer_certificate_is_refused(receiver, task):
    _, answer = receiver.accept(post(task.to_fhir(), None))
    assert answer.status == 403


def test_expired_task_is_refused(receiver, sender_cert):
    old = build_notification_task(
        sender=SENDER, receiver=RECEIVER, sending_system=__import__("twiin").exchange.notified_pull.task.PartyId("urn:x", "s"),
        patient=PATIENT, queries=bgz.QUERIES[:1], now=datetime.now(UTC) - timedelta(days=30), valid_for=timedelta(days=1),
    )  # fmt: skip
    _, answer = receiver.accept(post(old.to_fhir(), sender_cert))
    assert answer.status == 422


def test_cancelled_task_cannot_be_created(receiver, task, sender_cert):
    _, answer = receiver.accept(post(task.cancellation().to_fhir(), sender_cert))
    assert answer.status == 422


def test_invalid_task_gives_all_issues(receiver, task, sender_cert):
    data = task.to_fhir()
    data["intent"] = "order"
    data["code"]["coding"][0]["code"] = "x"
    _, answer = receiver.accept(post(data, sender_cert))
    assert answer.status == 422
    expressions = {i["expression"][0] for i in answer.json_body()["issue"]}
    assert {"Task.intent", "Task.code"} <= expressions


def test_malformed_body_gives_400(receiver, sender_cert):
    request = IncomingRequest(
        "POST", "https://r/fhir/Task", {"content-type": "application/fhir+json"}, b"{", sender_cert
    )
    _, answer = receiver.accept(request)
    assert answer.status == 400


def test_lenient_receiver_accepts_published_example_with_warnings(sender_cert):
    data = defective_ta_example()
    data["owner"]["identifier"] = RECEIVER.to_dict()
    data["requester"]["onBehalfOf"]["identifier"] = SENDER.to_dict()
    data["restriction"]["period"]["end"] = "2999-01-01T00:00:00+01:00"
    strict, lenient = NotificationReceiver(RECEIVER), NotificationReceiver(RECEIVER, lenient=True)
    assert strict.accept(post(data, sender_cert))[1].status == 400
    notification, answer = lenient.accept(post(data, sender_cert))
    assert answer.status == 201
    assert {w.path for w in notification.warnings} >= {"Task.identifier", "Task.input[0]"}


def _cancel_request(task, cert, token=None):
    token = token or task.identifier_token
    body = json.dumps({"resourceType": "Task", "identifier": [{"system": task.identifier_system, "value": task.identifier}],
                       "status": "cancelled", "intent": "proposal"}).encode()  # fmt: skip
    url = f"https://r.example/fhir/Task?identifier={token}"
    return IncomingRequest("PUT", url, {"content-type": "application/fhir+json"}, body, cert)


def test_sender_can_cancel_by_conditional_update(receiver, task, sender_cert, sink):
    receiver.accept(post(task.to_fhir(), sender_cert))
    notification, answer = receiver.accept(_cancel_request(task, sender_cert))
    assert answer.status == 200
    assert notification.cancelled
    assert receiver.inbox.get(task.identifier_token).cancelled
    assert receiver.accept(post(task.to_fhir(), sender_cert))[1].status == 422
    assert sink.actions()[-2:] == ["notified-pull.cancel", "notified-pull.accept"]


def test_only_the_sender_may_cancel(receiver, task, sender_cert, other_cert):
    receiver.accept(post(task.to_fhir(), sender_cert))
    assert receiver.accept(_cancel_request(task, other_cert))[1].status == 403
    assert not receiver.inbox.get(task.identifier_token).cancelled


def test_cancel_of_unknown_notification_is_404(receiver, task, sender_cert):
    assert receiver.accept(_cancel_request(task, sender_cert))[1].status == 404


def test_other_methods_are_refused(receiver, sender_cert):
    assert (
        receiver.accept(IncomingRequest("DELETE", "https://r/fhir/Task/1", {}, b"", sender_cert))[1].status
        == 405
    )


def _with_access(mapping):
    from twiin.errors import InvalidTokenError

    def access(token, peer_certificate):
        if token not in mapping:
            raise InvalidTokenError("unknown token")
        return mapping[token]

    return NotificationReceiver(RECEIVER, access=access)


def _bearer(request, token):
    headers = {**request.headers, "authorization": f"Bearer {token}"}
    return IncomingRequest(request.method, request.url, headers, request.body, request.peer_certificate)


def test_token_is_required_when_access_is_configured(task, sender_cert):
    receiver = _with_access({"good": SENDER, "foreign": Ura("33333333")})
    request = post(task.to_fhir(), sender_cert)
    assert receiver.accept(request)[1].status == 401
    assert receiver.accept(_bearer(request, "bad"))[1].status == 401
    assert receiver.accept(_bearer(request, "foreign"))[1].status == 403
    assert receiver.accept(_bearer(request, "good"))[1].status == 201


def test_xml_notification_is_accepted_like_json(receiver, task, sender_cert):
    from fhir.resources.STU3.task import Task as STU3Task

    xml = STU3Task.model_validate(task.to_fhir()).model_dump_xml()
    body = xml if isinstance(xml, bytes) else xml.encode("utf-8")
    request = IncomingRequest(
        "POST", "https://r.example/fhir/Task", {"Content-Type": "application/fhir+xml"}, body, sender_cert
    )
    notification, answer = receiver.accept(request)
    assert answer.status == 201
    assert notification.task.identifier == task.identifier
    assert notification.task.authorization_base == task.authorization_base
    assert [q.query for q in notification.task.queries] == [q.query for q in bgz.QUERIES]
