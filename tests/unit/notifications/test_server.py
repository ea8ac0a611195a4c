"""The data holder core: REST face, numbering, filters, bundles in all payload modes, delivery state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.validation import fixtures as fx
from twiin import naming
from twiin.exchange.notifications import (
    AuthorizationHint,
    SubscriptionServerCore,
    build_subscription,
    parse_events_bundle,
    parse_notification,
    parse_status_bundle,
)
from twiin.fhir.content import parse_resource, serialize
from twiin.fhir_version import FhirVersion
from twiin.serving import IncomingRequest
from twiin.validation import validate

BASE = "https://holder.example.org/fhir"
NOW = datetime(2026, 7, 16, 9, 15, tzinfo=UTC)
OWNER = "owner:identifier=https://f.example.org/hcs|wondzorg"


def sub(content: str = "id-only", **kw: Any) -> dict[str, Any]:
    return build_subscription(
        topic=fx.TOPIC,
        endpoint="https://receiver.example.org/hook",
        filters=[OWNER],
        content=content,  # type: ignore[arg-type]
        heartbeat_period=kw.pop("heartbeat_period", 60),
        **kw,
    )


def req(method: str, path: str, body: Any = None, **headers: str) -> IncomingRequest:
    data = json.dumps(body).encode() if body is not None else b""
    return IncomingRequest(method, BASE + path, {"content-type": naming.FHIR_JSON, **headers}, data)


def created(core: SubscriptionServerCore, content: str = "id-only") -> dict[str, Any]:
    answer = core.handle(req("POST", "/Subscription", sub(content)), NOW)
    assert answer.status == 201, answer.body
    return answer.json_body()


def activate(core: SubscriptionServerCore) -> None:
    for delivery in core.take_pending():
        core.delivered(delivery, True, NOW)


def test_create_queues_valid_handshake_and_activates_on_delivery() -> None:
    core = SubscriptionServerCore(BASE)
    resource = created(core)
    assert resource["status"] == "requested"
    assert resource["id"]
    (handshake,) = core.take_pending()
    assert handshake.kind == "handshake"
    assert handshake.endpoint == "https://receiver.example.org/hook"
    bundle = json.loads(handshake.body)
    assert validate(bundle) == []
    parsed = parse_notification(handshake.body)
    assert (parsed.kind, parsed.status.subscription) == ("handshake", f"{BASE}/Subscription/{resource['id']}")
    core.delivered(handshake, True, NOW)
    assert core.handle(req("GET", f"/Subscription/{resource['id']}")).json_body()["status"] == "active"


def test_create_refuses_invalid_subscription() -> None:
    core = SubscriptionServerCore(BASE, topics=[fx.TOPIC])
    bad = sub()
    bad["channel"]["type"] = "websocket"
    assert core.handle(req("POST", "/Subscription", bad)).status == 422
    active = sub()
    active["status"] = "active"
    assert core.handle(req("POST", "/Subscription", active)).status == 422
    other = sub()
    other["criteria"] = "https://example.org/fhir/SubscriptionTopic/other"
    assert core.handle(req("POST", "/Subscription", other)).status == 422
    plain = sub()
    plain["channel"]["endpoint"] = "http://receiver.example.org/hook"
    assert core.handle(req("POST", "/Subscription", plain)).status == 422
    assert core.handle(req("POST", "/Subscription", None)).status == 400
    assert core.pending == []


@pytest.mark.parametrize("content", ["empty", "id-only", "full-resource"])
def test_events_are_numbered_and_valid_in_each_payload_mode(content: str) -> None:
    core = SubscriptionServerCore(BASE)
    created(core, content)
    activate(core)
    task = {"resourceType": "Task", "id": "t1", "status": "ready", "intent": "order"}
    for _ in range(3):
        (delivery,) = core.publish(
            fx.TOPIC,
            focus="Task/t1",
            resource=task,
            filters={"owner:identifier": OWNER.split("=", 1)[1]},
            now=NOW,
        )
    assert delivery.event_numbers == (3,)
    bundle = json.loads(delivery.body)
    assert validate(bundle) == []
    parsed = parse_notification(delivery.body)
    assert parsed.content == content
    (event,) = parsed.status.events
    assert event.number == 3
    assert parsed.status.events_since_start == 3
    if content == "empty":
        assert event.focus is None
        assert len(bundle["entry"]) == 1
    else:
        assert event.focus == f"{BASE}/Task/t1"
        assert bundle["entry"][1]["fullUrl"] == f"{BASE}/Task/t1"
        assert ("resource" in bundle["entry"][1]) == (content == "full-resource")


def test_filters_and_topics_select_subscriptions() -> None:
    core = SubscriptionServerCore(BASE)
    created(core)
    activate(core)
    assert core.publish(fx.TOPIC, focus="Task/1", filters={"owner:identifier": "x|y"}, now=NOW) == []
    assert (
        core.publish(
            "https://example.org/other",
            focus="Task/1",
            filters={"owner:identifier": "https://f.example.org/hcs|wondzorg"},
            now=NOW,
        )
        == []
    )
    hits = core.publish(
        fx.TOPIC,
        focus="Task/1",
        filters={"owner:identifier": ["a|b", "https://f.example.org/hcs|wondzorg"]},
        now=NOW,
    )
    assert len(hits) == 1
    assert hits[0].event_numbers == (1,)


def test_requested_or_off_subscriptions_get_no_events() -> None:
    core = SubscriptionServerCore(BASE)
    resource = created(core)
    match = {"owner:identifier": "https://f.example.org/hcs|wondzorg"}
    assert core.publish(fx.TOPIC, focus="Task/1", filters=match, now=NOW) == []
    activate(core)
    core.retire(resource["id"])
    assert core.publish(fx.TOPIC, focus="Task/1", filters=match, now=NOW) == []


def test_status_and_events_operations() -> None:
    core = SubscriptionServerCore(BASE)
    sid = created(core)["id"]
    activate(core)
    hint = AuthorizationHint("https://example.org/CodeSystem/authorization-type", "example", "secret-value")
    match = {"owner:identifier": "https://f.example.org/hcs|wondzorg"}
    for n in range(5):
        core.publish(
            fx.TOPIC, focus=f"Task/{n}", filters=match, now=NOW, authorization=hint if n == 2 else None
        )
    (status,) = parse_status_bundle(core.handle(req("GET", f"/Subscription/{sid}/$status"), NOW).json_body())
    assert (status.type, status.events_since_start, status.status) == ("query-status", 5, "active")
    typed = parse_status_bundle(
        core.handle(req("GET", "/Subscription/$status?status=active"), NOW).json_body()
    )
    assert [s.subscription for s in typed] == [f"{BASE}/Subscription/{sid}"]
    assert (
        parse_status_bundle(core.handle(req("GET", "/Subscription/$status?status=off"), NOW).json_body())
        == []
    )
    answer = core.handle(
        req("GET", f"/Subscription/{sid}/$events?eventsSinceNumber=2&eventsUntilNumber=4"), NOW
    )
    events = parse_events_bundle(answer.json_body())
    assert events.kind == "query-event"
    assert [e.number for e in events.status.events] == [2, 3, 4]
    assert events.status.events[1].authorization == hint
    full = core.handle(req("GET", f"/Subscription/{sid}/$events?eventsSinceNumber=5&content=empty"), NOW)
    assert parse_events_bundle(full.json_body()).status.events[0].focus is None
    assert core.handle(req("GET", f"/Subscription/{sid}/$events?eventsSinceNumber=x"), NOW).status == 400


def test_update_rules_and_no_delete() -> None:
    core = SubscriptionServerCore(BASE)
    current = created(core)
    sid = current["id"]
    assert core.handle(req("DELETE", f"/Subscription/{sid}")).status == 405
    changed = dict(current, channel=dict(current["channel"], endpoint="https://elsewhere.example.org/hook"))
    assert core.handle(req("PUT", f"/Subscription/{sid}", changed)).status == 422
    content = json.loads(json.dumps(current))
    content["channel"]["_payload"]["extension"][0]["valueCode"] = "full-resource"
    assert core.handle(req("PUT", f"/Subscription/{sid}", content)).status == 422
    xml = json.loads(json.dumps(current))
    xml["channel"]["payload"] = naming.FHIR_XML
    answer = core.handle(req("PUT", f"/Subscription/{sid}", xml, **{"if-match": 'W/"1"'}))
    assert answer.status == 200
    assert answer.json_body()["channel"]["payload"] == naming.FHIR_XML
    stale = dict(current, status="off")
    assert core.handle(req("PUT", f"/Subscription/{sid}", stale, **{"if-match": 'W/"1"'})).status == 412
    off = core.handle(req("PUT", f"/Subscription/{sid}", stale))
    assert off.json_body()["status"] == "off"
    assert core.handle(req("GET", "/Subscription/unknown")).status == 404


def test_xml_payload_delivery() -> None:
    core = SubscriptionServerCore(BASE)
    core.handle(req("POST", "/Subscription", sub(payload=naming.FHIR_XML)), NOW)
    (handshake,) = core.take_pending()
    assert handshake.headers["content-type"].startswith(naming.FHIR_XML)
    assert handshake.body.startswith(b"<?xml")
    assert parse_notification(handshake.body, naming.FHIR_XML).kind == "handshake"


def test_delivery_failure_marks_error_and_recovery_reactivates() -> None:
    core = SubscriptionServerCore(BASE)
    sid = created(core)["id"]
    activate(core)
    (delivery,) = core.publish(
        fx.TOPIC, focus="Task/1", filters={"owner:identifier": "https://f.example.org/hcs|wondzorg"}, now=NOW
    )
    core.take_pending()
    core.delivered(delivery, False, NOW)
    assert core.records[sid].status == "error"
    beat = core.heartbeat(sid, NOW)
    assert parse_notification(beat.body).status.status == "error"
    core.delivered(beat, True, NOW)
    assert core.records[sid].status == "active"


def test_heartbeats_due_after_silence() -> None:
    core = SubscriptionServerCore(BASE)
    created(core)
    activate(core)
    assert core.due_heartbeats(NOW + timedelta(seconds=30)) == []
    (beat,) = core.due_heartbeats(NOW + timedelta(seconds=61))
    parsed = parse_notification(beat.body)
    assert (parsed.kind, parsed.status.events_since_start) == ("heartbeat", 0)
    assert validate(json.loads(beat.body)) == []


def test_authorize_hook_guards_reads() -> None:
    core = SubscriptionServerCore(
        BASE, authorize=lambda request, record: request.headers.get("x-who") == "me"
    )
    assert core.handle(req("POST", "/Subscription", sub())).status == 403
    core2 = SubscriptionServerCore(
        BASE, authorize=lambda request, record: record is None or request.headers.get("x-who") == "me"
    )
    sid = created(core2)["id"]
    assert core2.handle(req("GET", f"/Subscription/{sid}")).status == 403
    assert core2.handle(req("GET", f"/Subscription/{sid}", **{"x-who": "me"})).status == 200


def test_workflow_subscriptions_never_carry_an_authorization_value() -> None:
    core = SubscriptionServerCore(BASE)
    resource = sub(profile=naming.SD_WORKFLOW_SUBSCRIPTION)
    assert core.handle(req("POST", "/Subscription", resource), NOW).status == 201
    activate(core)
    hint = AuthorizationHint("https://example.org/CodeSystem/authorization-type", "example", "secret-value")
    (delivery,) = core.publish(
        fx.TOPIC,
        focus="Task/1",
        filters={"owner:identifier": "https://f.example.org/hcs|wondzorg"},
        now=NOW,
        authorization=hint,
    )
    assert b"secret-value" not in delivery.body
    assert parse_notification(delivery.body).status.events[0].authorization is None


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.builds(dict) | st.builds(list)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_subscriptions_always_get_an_answer(data: st.DataObject) -> None:
    resource = sub(timeout=30)
    target = data.draw(st.sampled_from(_paths(resource)))
    node = resource
    for step in target[:-1]:
        node = node[step]
    node[target[-1]] = data.draw(_VALUES)
    core = SubscriptionServerCore(BASE)
    answer = core.handle(req("POST", "/Subscription", resource), NOW)
    assert answer.status in (201, 400, 422)
    if answer.status == 201:
        sid = answer.json_body()["id"]
        assert core.handle(req("PUT", f"/Subscription/{sid}", resource), NOW).status in (200, 400, 422)
        assert core.handle(req("GET", f"/Subscription/{sid}/$events"), NOW).status == 200


def test_xml_in_and_out_when_the_client_asks_for_xml() -> None:
    core = SubscriptionServerCore(BASE)
    xml_body = serialize(sub(), naming.FHIR_XML, version=FhirVersion.R4)
    request = IncomingRequest(
        "POST", BASE + "/Subscription",
        {"content-type": naming.FHIR_XML, "accept": naming.FHIR_XML}, xml_body,
    )  # fmt: skip
    answer = core.handle(request, NOW)
    assert answer.status == 201
    assert answer.headers["content-type"].startswith(naming.FHIR_XML)
    created_xml = parse_resource(answer.body, FhirVersion.R4, naming.FHIR_XML)
    assert created_xml.status == "requested"
    status = core.handle(req("GET", f"/Subscription/{created_xml.id}/$status?_format=xml"), NOW)
    assert status.headers["content-type"].startswith(naming.FHIR_XML)
    assert parse_resource(status.body, FhirVersion.R4, naming.FHIR_XML).type == "searchset"
    # _format wins over Accept; JSON stays the default
    as_json = core.handle(req("GET", f"/Subscription/{created_xml.id}?_format=json", accept=naming.FHIR_XML))
    assert as_json.json_body()["id"] == created_xml.id
    assert core.handle(req("GET", f"/Subscription/{created_xml.id}")).json_body()["status"] == "requested"


def test_hostile_xml_subscription_is_a_400_answer() -> None:
    core = SubscriptionServerCore(BASE)
    body = b"<!DOCTYPE x [<!ENTITY e 'boom'>]><Subscription xmlns='http://hl7.org/fhir'><id value='&e;'/></Subscription>"
    request = IncomingRequest("POST", BASE + "/Subscription", {"content-type": naming.FHIR_XML}, body)
    answer = core.handle(request, NOW)
    assert answer.status == 400
    assert "boom" not in answer.body.decode()
    assert core.take_pending() == []
