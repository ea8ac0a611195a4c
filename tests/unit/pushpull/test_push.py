"""Push over respx: correlated receipts, message responses, typed errors, audit, sync/async parity."""

from __future__ import annotations

import inspect
import json

import anyio
import pytest
import respx

from twiin.errors import (
    ConfigurationError,
    ConsentDenied,
    EndpointNotFound,
    FHIRError,
    MessageRejected,
    ModelValidationError,
    NotAuthorizedError,
    ServerError,
    UnprocessableError,
)
from twiin.exchange.push import AsyncPusher, PushCore, Pusher
from twiin.fhir import BundleBuilder
from twiin.identifiers import Ura
from twiin.naming import BSN_SYSTEM

from .conftest import (
    PATIENT,
    PEER,
    PEER_BASE,
    PUSH_PAYLOAD,
    TOKEN,
    US,
    StaticBearer,
    address_book,
    fhir_response,
    outcome,
)


def make_core(auditor=None, auth=None):
    auth = auth or StaticBearer()
    return PushCore(US, address_book(), auth_for=lambda ura, url: auth, auditor=auditor, consent=None), auth


def transaction():
    builder = BundleBuilder("transaction")
    patient = builder.create({"resourceType": "Patient", "name": [{"family": "Test"}]})
    obs = builder.create({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": patient}})  # fmt: skip
    return builder, patient, obs


def test_a_plan_repr_shows_no_patient_data():
    builder = BundleBuilder("transaction")
    builder.create(
        {"resourceType": "Patient", "identifier": [{"system": BSN_SYSTEM, "value": PATIENT.value}]}
    )
    plan = make_core()[0].plan(PEER, builder, PUSH_PAYLOAD)
    assert PATIENT.value.encode() in plan.call.request.content
    assert PATIENT.value not in repr(plan)
    assert f"<{len(plan.call.request.content)} bytes>" in repr(plan)


def transaction_response(*locations, status="201 Created"):
    return {"resourceType": "Bundle", "type": "transaction-response",
            "entry": [{"response": {"status": status, "location": loc, "etag": 'W/"1"'}} for loc in locations]}  # fmt: skip


def message(header_id="msg-1"):
    return {"resourceType": "Bundle", "type": "message", "entry": [
        {"fullUrl": f"urn:uuid:{header_id}", "resource": {"resourceType": "MessageHeader", "id": header_id,
         "eventCoding": {"system": "urn:example", "code": "referral"}, "source": {"endpoint": "urn:us"}}},
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p"}},
    ]}  # fmt: skip


def message_response(answering="msg-1", code="ok", details=None):
    response = {"identifier": answering, "code": code}
    if details:
        response["details"] = {"reference": details}
    entries = [{"fullUrl": "urn:uuid:r", "resource": {"resourceType": "MessageHeader", "id": "r",
                "eventCoding": {"system": "urn:example", "code": "referral"},
                "source": {"endpoint": "urn:peer"}, "response": response}}]  # fmt: skip
    if details:
        entries.append({"fullUrl": details, "resource": outcome("invalid", "unknown referral type")})
    return {"resourceType": "Bundle", "type": "message", "entry": entries}


@respx.mock
def test_transaction_push_returns_correlated_receipt(auditor, sink):
    route = respx.post(PEER_BASE).respond(
        200, json=transaction_response("Patient/1/_history/1", "Observation/2/_history/1")
    )
    builder, patient_url, obs_url = transaction()
    core, auth = make_core(auditor)
    with Pusher(core) as pusher:
        receipt = pusher.push(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)
    assert auth.uses == 1
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["content-type"].startswith("application/fhir+json")
    assert json.loads(sent.content) == builder.build()
    assert receipt.ok
    assert receipt.status == 200
    assert receipt.bundle_type == "transaction"
    assert receipt.endpoint == PEER_BASE
    assert receipt.receiver == PEER
    assert receipt.by_full_url(patient_url).id == "1"
    assert receipt.by_full_url(obs_url).location == "Observation/2/_history/1"
    assert [e.status for e in receipt.entries] == [201, 201]
    assert receipt.raise_for_errors() is receipt
    [event] = sink.events
    assert (event.action, event.outcome, event.peer_ura) == ("push.send", "success", PEER.value)
    assert event.patient_pseudonym
    assert PATIENT.value not in json.dumps(event.to_dict())
    assert TOKEN not in json.dumps(event.to_dict())


@respx.mock
def test_batch_entry_failure_is_visible_per_entry():
    body = {"resourceType": "Bundle", "type": "batch-response", "entry": [
        {"response": {"status": "201", "location": "Patient/1"}},
        {"response": {"status": "422", "outcome": outcome("invalid", "bad code")}},
    ]}  # fmt: skip
    respx.post(PEER_BASE).respond(200, json=body)
    builder = BundleBuilder("batch")
    builder.create({"resourceType": "Patient"})
    builder.create({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    with Pusher(make_core()[0]) as pusher:
        receipt = pusher.push(PEER, builder, PUSH_PAYLOAD)
    assert not receipt.ok
    assert [f.index for f in receipt.failures] == [1]
    with pytest.raises(FHIRError) as err:
        receipt.raise_for_errors()
    assert err.value.status == 422
    assert err.value.operation_outcome["issue"][0]["diagnostics"] == "bad code"


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, FHIRError), (401, NotAuthorizedError), (403, NotAuthorizedError), (422, UnprocessableError),
     (500, ServerError), (503, ServerError)],
)  # fmt: skip
@respx.mock
def test_http_errors_are_typed_with_the_operation_outcome(status, error, auditor, sink):
    respx.post(PEER_BASE).mock(return_value=fhir_response(status, outcome("processing", "refused here")))
    with Pusher(make_core(auditor)[0], retry=None) as pusher, pytest.raises(error) as err:
        pusher.push(PEER, transaction()[0], PUSH_PAYLOAD, patient=PATIENT)
    issues = err.value.operation_outcome.issue if hasattr(err.value.operation_outcome, "issue") else None
    assert issues
    assert issues[0].diagnostics == "refused here"
    assert PATIENT.value not in str(err.value)
    assert TOKEN not in str(err.value)
    [event] = sink.events
    assert event.outcome == "failure"
    assert event.detail == f"{type(err.value).__name__} {status}"


@respx.mock
def test_transaction_response_with_missing_entries_is_refused():
    respx.post(PEER_BASE).respond(200, json=transaction_response("Patient/1"))
    with Pusher(make_core()[0]) as pusher, pytest.raises(ModelValidationError):
        pusher.push(PEER, transaction()[0], PUSH_PAYLOAD)


@respx.mock
def test_message_goes_to_process_message_and_checks_the_response():
    route = respx.post(f"{PEER_BASE}/$process-message").respond(200, json=message_response())
    with Pusher(make_core()[0]) as pusher:
        receipt = pusher.push(PEER, message(), PUSH_PAYLOAD)
    assert route.called
    assert json.loads(route.calls.last.request.content)["type"] == "message"
    assert receipt.message_code == "ok"
    assert receipt.ok
    assert receipt.entries == ()


@respx.mock
def test_message_accepted_for_later_has_no_code():
    respx.post(f"{PEER_BASE}/$process-message").respond(202)
    with Pusher(make_core()[0]) as pusher:
        receipt = pusher.push(PEER, message(), PUSH_PAYLOAD)
    assert receipt.status == 202
    assert receipt.message_code is None


@respx.mock
def test_message_fatal_error_raises_with_the_outcome(auditor, sink):
    respx.post(f"{PEER_BASE}/$process-message").respond(
        200, json=message_response(code="fatal-error", details="urn:uuid:oo")
    )
    with Pusher(make_core(auditor)[0]) as pusher, pytest.raises(MessageRejected) as err:
        pusher.push(PEER, message(), PUSH_PAYLOAD)
    assert err.value.code == "fatal-error"
    assert err.value.operation_outcome["issue"][0]["diagnostics"] == "unknown referral type"
    assert sink.events[-1].detail == "MessageRejected"


@respx.mock
def test_message_response_to_another_message_is_refused():
    respx.post(f"{PEER_BASE}/$process-message").respond(200, json=message_response(answering="other"))
    with Pusher(make_core()[0]) as pusher, pytest.raises(ModelValidationError):
        pusher.push(PEER, message(), PUSH_PAYLOAD)


@pytest.mark.parametrize(
    "bundle",
    [
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resourceType": "Patient"}}]},
        {"resourceType": "Bundle", "type": "transaction", "entry": []},
        {"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "Patient"}}]},
        {"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "MessageHeader"}}]},
        {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"id": "no-type"}}]},
        {"resourceType": "Bundle", "type": "batch", "entry": ["not an entry"]},
    ],
)  # fmt: skip
def test_bad_bundles_send_nothing(bundle, auditor, sink):
    core, auth = make_core(auditor)
    with respx.mock(assert_all_called=False) as router, Pusher(core) as pusher:
        route = router.route()
        with pytest.raises(ConfigurationError):
            pusher.push(PEER, bundle, PUSH_PAYLOAD)
    assert not route.called
    assert auth.uses == 0
    assert sink.events[-1].outcome == "failure"


def test_unknown_receiver_or_payload_type_is_endpoint_not_found(auditor, sink):
    with respx.mock(assert_all_called=False) as router, Pusher(make_core(auditor)[0]) as pusher:
        route = router.route()
        with pytest.raises(EndpointNotFound):
            pusher.push(Ura("33333333"), transaction()[0], PUSH_PAYLOAD)
        with pytest.raises(EndpointNotFound):
            pusher.push(PEER, transaction()[0], "another-payload-type")
    assert not route.called
    assert [e.detail for e in sink.events] == ["EndpointNotFound", "EndpointNotFound"]


@respx.mock
def test_async_push_matches_sync(auditor, sink):
    respx.post(PEER_BASE).respond(200, json=transaction_response("Patient/1", "Observation/2"))
    builder, patient_url, _ = transaction()

    async def run():
        async with AsyncPusher(make_core(auditor)[0]) as pusher:
            return await pusher.push(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)

    receipt = anyio.run(run)
    assert receipt.ok
    assert receipt.by_full_url(patient_url).id == "1"
    assert sink.actions() == ["push.send"]


@respx.mock
def test_async_push_raises_typed_errors():
    respx.post(PEER_BASE).mock(return_value=fhir_response(422, outcome("invalid", "nope")))

    async def run():
        async with AsyncPusher(make_core()[0], retry=None) as pusher:
            await pusher.push(PEER, transaction()[0], PUSH_PAYLOAD)

    with pytest.raises(UnprocessableError):
        anyio.run(run)


def test_sync_and_async_facades_expose_the_same_methods():
    def public(cls):
        return {n for n, _ in inspect.getmembers(cls, callable) if not n.startswith("_")}

    assert public(Pusher) == public(AsyncPusher)


class Consent:
    def __init__(self, *permitted, error=None):
        self.permitted, self.error, self.asked = set(permitted), error, []

    def __call__(self, request):
        self.asked.append(request)
        if self.error is not None:
            raise self.error
        return request.resource_type in self.permitted


@pytest.mark.parametrize(
    "consent", [Consent("Patient"), Consent("Patient", "Observation", error=RuntimeError())]
)
def test_push_without_consent_for_every_type_sends_nothing(consent, auditor, sink):
    core, auth = make_core(auditor)
    core.consent = consent
    with respx.mock(assert_all_called=False) as router, Pusher(core) as pusher:
        route = router.route()
        with pytest.raises(ConsentDenied) as err:
            pusher.push(PEER, transaction()[0], PUSH_PAYLOAD, patient=PATIENT)
    assert err.value.resource_type in ("Observation", "Patient")
    assert not route.called
    assert auth.uses == 0
    assert "denied" in [e.outcome for e in sink.events if e.action == "push.consent"]
    assert sink.events[-1].action == "push.send"
    assert sink.events[-1].outcome == "failure"


@respx.mock
def test_push_with_consent_asks_per_resource_type_as_holder():
    respx.post(PEER_BASE).respond(200, json=transaction_response("Patient/1", "Observation/2"))
    consent = Consent("Patient", "Observation")
    core, _ = make_core()
    core.consent = consent
    with Pusher(core) as pusher:
        assert pusher.push(PEER, transaction()[0], PUSH_PAYLOAD, patient=PATIENT).ok
    assert sorted(r.resource_type for r in consent.asked) == ["Observation", "Patient"]
    assert {(r.holder, r.requester, r.patient) for r in consent.asked} == {(US, PEER, PATIENT)}


def test_push_with_consent_refuses_an_untyped_resource_unasked():
    consent = Consent("Patient")
    core, _ = make_core()
    core.consent = consent
    untyped = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}}, {"resource": {"id": "x"}}]}  # fmt: skip
    with respx.mock(assert_all_called=False) as router, Pusher(core) as pusher:
        route = router.route()
        with pytest.raises(ConfigurationError):
            pusher.push(PEER, untyped, PUSH_PAYLOAD, patient=PATIENT)
    assert not route.called


def test_push_with_consent_needs_the_patient():
    core, _ = make_core()
    core.consent = Consent("Patient", "Observation")
    with Pusher(core) as pusher, pytest.raises(ConfigurationError):
        pusher.push(PEER, transaction()[0], PUSH_PAYLOAD)
