"""``twiin.testing.placer``: Task writes vetted per caller (also inside Bundles), changes published once stored."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from twiin._http.compat import httpx
from twiin.exchange.notifications import Dispatcher, SubscriptionServerCore, build_subscription
from twiin.identifiers import Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.placer import PlacerFhirServer, background_dispatch, certificate_ura, loopback_only

from ..workflow import examples as ex

BASE = "https://placer.test/fhir"
TOPIC = "https://placer.test/fhir/SubscriptionTopic/task-change"
PLACER, FULFILLER_A, STRANGER = Ura(ex.PLACER_URA), Ura(ex.FULFILLER_A_URA), Ura("99999999")


@pytest.fixture
def core() -> SubscriptionServerCore:
    return SubscriptionServerCore(BASE, topics=[TOPIC])


@pytest.fixture
def placer(core: SubscriptionServerCore) -> PlacerFhirServer:
    return PlacerFhirServer(
        PLACER, identify=lambda r: Ura(r.headers["x-ura"]) if "x-ura" in r.headers else None,
        subscriptions=core, topic=TOPIC,
    )  # fmt: skip


def call(
    server: PlacerFhirServer, method: str, path: str, body: Any, ura: Ura | None, **headers: str
) -> Answer:
    hdrs = {"content-type": "application/fhir+json", **headers}
    if ura is not None:
        hdrs["x-ura"] = ura.value
    return server.handle(IncomingRequest(method, BASE + path, hdrs, json.dumps(body).encode()))


def _subscribe(core: SubscriptionServerCore) -> None:
    resource = build_subscription(
        topic=TOPIC, endpoint="https://fulfiller.test/hook", content="id-only", heartbeat_period=3600,
        filters=[f"owner:identifier={ex.owner_a()['identifier']['system']}|{ex.owner_a()['identifier']['value']}"],
    )  # fmt: skip
    record = core.subscribe(resource, datetime.now(UTC))
    core.delivered(core.take_pending()[0], True, datetime.now(UTC))  # handshake answered
    assert core.records[record.id].status == "active"


def _transaction(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": t, "request": {"method": "POST", "url": "Task"}} for t in tasks],
    }


def test_placer_creates_and_the_change_is_published(
    placer: PlacerFhirServer, core: SubscriptionServerCore
) -> None:
    _subscribe(core)
    created = call(placer, "POST", "/Task", ex.ct_invited(), PLACER)
    assert created.status == 201, created.json_body()
    [delivery] = core.take_pending()
    assert delivery.kind == "event-notification"
    assert f"{BASE}/Task/{created.json_body()['id']}" in delivery.body.decode()  # the focus


def test_writes_without_an_identified_caller_or_by_a_stranger_are_refused(placer: PlacerFhirServer) -> None:
    assert call(placer, "POST", "/Task", ex.ct_invited(), None).status == 403
    task_id = call(placer, "POST", "/Task", ex.ct_invited(), PLACER).json_body()["id"]
    stored = placer.store.current("Task", task_id)
    assert stored is not None
    body = dict(stored.resource or {}) | {"status": "rejected"}
    refused = call(placer, "PUT", f"/Task/{task_id}", body, STRANGER, **{"if-match": 'W/"1"'})
    assert refused.status == 403
    assert refused.json_body()["resourceType"] == "OperationOutcome"


def test_transaction_entries_are_vetted_and_a_refusal_rolls_everything_back(
    placer: PlacerFhirServer, core: SubscriptionServerCore
) -> None:
    _subscribe(core)
    before = len(placer.store.history())
    bundle = _transaction(ex.ct_invited())
    other = {"resourceType": "Organization", "name": "written first"}
    bundle["entry"].insert(0, {"resource": other, "request": {"method": "POST", "url": "Organization"}})
    answer = call(placer, "POST", "", bundle, STRANGER)
    assert answer.status == 403  # no party to the Task: refused, also inside a transaction
    assert len(placer.store.history()) == before  # and the Organization written before is gone
    assert placer.store.all_current("Organization") == []
    assert core.take_pending() == []
    ok = call(placer, "POST", "", _transaction(ex.ct_invited()), PLACER)
    assert ok.status == 200, ok.json_body()
    assert [e["response"]["status"] for e in ok.json_body()["entry"]] == ["201"]
    assert [d.kind for d in core.take_pending()] == ["event-notification"]


def test_failed_transaction_publishes_nothing(placer: PlacerFhirServer, core: SubscriptionServerCore) -> None:
    _subscribe(core)
    broken = {"resourceType": "Organization", "bogus": True}
    bundle = _transaction(ex.ct_invited())
    bundle["entry"].append({"resource": broken, "request": {"method": "POST", "url": "Organization"}})
    answer = call(placer, "POST", "", bundle, PLACER)
    assert answer.status == 422
    assert placer.store.all_current("Task") == []
    assert core.take_pending() == []


def test_subscriptions_are_served_by_the_core(placer: PlacerFhirServer) -> None:
    answer = call(placer, "GET", "/Subscription/unknown-id", None, FULFILLER_A)
    assert answer.status == 404
    assert answer.json_body()["resourceType"] == "OperationOutcome"


def test_certificate_ura_reads_the_uzi_certificate(pki) -> None:  # type: ignore[no-untyped-def]
    cert = pki.issue_server(ura="33333333", uzi_number="900000003").certificate
    assert certificate_ura(IncomingRequest("GET", BASE, {}, b"", peer_certificate=cert)) == Ura("33333333")
    assert certificate_ura(IncomingRequest("GET", BASE)) is None
    plain = pki.intermediate.certificate
    assert certificate_ura(IncomingRequest("GET", BASE, peer_certificate=plain)) is None


def test_without_a_topic_every_subscribed_topic_gets_the_change() -> None:
    core = SubscriptionServerCore(BASE)
    placer = PlacerFhirServer(PLACER, identify=lambda r: Ura(r.headers["x-ura"]), subscriptions=core)
    _subscribe(core)
    other = build_subscription(
        topic="https://elsewhere.test/SubscriptionTopic/x", endpoint="https://fulfiller.test/hook2",
        content="id-only", heartbeat_period=3600,
    )  # fmt: skip
    core.subscribe(other, datetime.now(UTC))
    core.delivered(core.take_pending()[0], True, datetime.now(UTC))
    assert call(placer, "POST", "/Task", ex.ct_invited(), PLACER).status == 201
    assert sorted(d.endpoint for d in core.take_pending()) == [
        "https://fulfiller.test/hook",
        "https://fulfiller.test/hook2",
    ]


def test_loopback_only() -> None:
    assert loopback_only("https://127.0.0.1:8443/hook")
    assert loopback_only("https://localhost/hook")
    assert not loopback_only("http://127.0.0.1/hook")
    assert not loopback_only("https://gp.example.org/hook")


def test_background_dispatch_does_not_push_outside_the_sandbox(core: SubscriptionServerCore) -> None:
    resource = build_subscription(
        topic=TOPIC, endpoint="https://gp.example.org/hook", content="id-only", heartbeat_period=3600
    )
    record = core.subscribe(resource, datetime.now(UTC))
    with httpx.Client(transport=httpx.MockTransport(lambda r: pytest.fail("nothing may be sent"))) as client:
        with background_dispatch(Dispatcher(core, client), interval=0.01) as thread:
            deadline = time.monotonic() + 30
            while core.records[record.id].status != "error":
                assert time.monotonic() < deadline
                time.sleep(0.01)
    assert not thread.is_alive()
    assert core.pending == []


def test_background_dispatch_survives_a_failing_round(core: SubscriptionServerCore) -> None:
    rounds: list[int] = []

    class Flaky(Dispatcher):
        def deliver(self, delivery: Any) -> Any:
            rounds.append(1)
            if len(rounds) == 1:
                raise RuntimeError("boom")
            return super().deliver(delivery)

    resource = build_subscription(
        topic=TOPIC, endpoint="https://127.0.0.1:1/hook", content="id-only", heartbeat_period=3600
    )
    first = core.subscribe(resource, datetime.now(UTC))
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        with background_dispatch(Flaky(core, client), interval=0.01) as thread:
            deadline = time.monotonic() + 30
            while core.records[first.id].status != "error":  # the failed delivery counts as failed
                assert time.monotonic() < deadline
                time.sleep(0.01)
            core.subscribe(resource, datetime.now(UTC))  # a second handshake after the failure
            while len(rounds) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert thread.is_alive()


def test_other_writes_are_the_placers_own(placer: PlacerFhirServer) -> None:
    task_id = call(placer, "POST", "/Task", ex.ct_invited(), PLACER).json_body()["id"]
    for caller in (FULFILLER_A, STRANGER, None):
        assert call(placer, "DELETE", f"/Task/{task_id}", None, caller).status == 403
        assert call(placer, "POST", "/ServiceRequest", ex.service_request(), caller).status == 403
    assert call(placer, "GET", f"/Task/{task_id}", None, FULFILLER_A).status == 200  # reading is open
    assert call(placer, "POST", "/ServiceRequest", ex.service_request(), PLACER).status == 201
    assert call(placer, "DELETE", f"/Task/{task_id}", None, PLACER).status == 204
