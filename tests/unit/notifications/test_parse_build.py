"""Parsing notifications (JSON and XML), building Subscriptions and REST calls (sans-I/O)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.validation import fixtures as fx
from twiin import naming
from twiin.errors import (
    ExchangeError,
    NotificationError,
    ProfileValidationError,
    UnsafeEndpoint,
    UnsafeXML,
)
from twiin.exchange.notifications import (
    AsyncSubscriptionClient,
    SubscriptionClient,
    build_subscription,
    parse_events_bundle,
    parse_notification,
    parse_status_bundle,
    retired,
)
from twiin.exchange.notifications.subscription import checked_focus, checked_id, events_query, status_query
from twiin.fhir import AsyncFhirClient, FhirClient
from twiin.validation import validate


def raw(resource: Any) -> bytes:
    return json.dumps(resource).encode()


def test_parse_kinds_and_numbers() -> None:
    hs = parse_notification(raw(fx.handshake()))
    assert (hs.kind, hs.status.status, hs.content, hs.status.events) == (
        "handshake",
        "requested",
        "empty",
        (),
    )
    hb = parse_notification(raw(fx.heartbeat()))
    assert (hb.kind, hb.status.events_since_start) == ("heartbeat", 42)
    ev = parse_notification(raw(fx.event_id_only()))
    assert ev.content == "id-only"
    assert ev.status.subscription == fx.SUB_URL
    assert ev.status.topic == fx.TOPIC
    (event,) = ev.status.events
    assert (event.number, event.focus, event.timestamp) == (42, fx.FOCUS, "2026-07-16T09:15:00Z")
    assert ev.resource_for(event) is None
    full = parse_notification(raw(fx.event_full_resource()))
    assert full.content == "full-resource"
    assert full.resource_for(full.status.events[0])["status"] == "ready"
    empty = parse_notification(raw(fx.event_empty()))
    assert (empty.content, empty.status.events[0].number, empty.status.events[0].focus) == ("empty", 43, None)


def test_parse_xml_notification() -> None:
    xml = Bundle.model_validate(fx.event_full_resource()).model_dump_xml()
    parsed = parse_notification(xml, naming.FHIR_XML)
    assert parsed.content == "full-resource"
    assert parsed.status.events[0].number == 44


def test_events_answer_surfaces_authorization_hint_without_leaking_it() -> None:
    answer = parse_events_bundle(fx.events_response_auth())
    assert answer.kind == "query-event"
    hint = answer.status.events[0].authorization
    assert hint is not None
    assert (hint.system, hint.code, hint.value) == (
        "https://example.org/CodeSystem/authorization-type",
        "example",
        "Zk3p9QxT2mVb7LcW8nRy",
    )
    assert "Zk3p9QxT2mVb7LcW8nRy" not in repr(hint) + repr(answer)


def test_status_answer() -> None:
    (status,) = parse_status_bundle(fx.status_response())
    assert (status.type, status.events_since_start, status.status) == ("query-status", 44, "active")


def test_invalid_notification_is_422_with_issues() -> None:
    bundle = fx.heartbeat()
    bundle["entry"][0]["resource"]["parameter"] = [
        p
        for p in bundle["entry"][0]["resource"]["parameter"]
        if p["name"] != "events-since-subscription-start"
    ]
    with pytest.raises(NotificationError) as info:
        parse_notification(raw(bundle))
    assert info.value.status == 422
    assert {i.key for i in info.value.issues} == {"twiin-st-3"}


def test_warnings_do_not_reject() -> None:
    bundle = fx.event_id_only()
    bundle["entry"][0]["resource"]["parameter"][-1]["part"][2]["valueReference"]["reference"] = "Task/5f2f"
    parsed = parse_notification(raw(bundle))
    assert [i.key for i in parsed.issues] == ["twiin-st-4"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"resourceType": "Task"}',
        b"\xff\xfe",
        json.dumps({"resourceType": "Bundle"}).encode(),
    ],
)
def test_malformed_bodies_are_typed_errors(body: bytes) -> None:
    with pytest.raises(NotificationError) as info:
        parse_notification(body)
    assert info.value.status in (400, 422)


def test_bad_event_number() -> None:
    bundle = fx.event_id_only()
    bundle["entry"][0]["resource"]["parameter"][-1]["part"][0]["valueString"] = "4x"
    with pytest.raises(NotificationError, match="event-number"):
        parse_notification(raw(bundle))


def test_hostile_xml_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><Bundle xmlns="http://hl7.org/fhir"><type value="&b;"/></Bundle>'
    with pytest.raises(UnsafeXML):
        parse_notification(bomb, naming.FHIR_XML)
    with pytest.raises(NotificationError):
        parse_notification(b"<Bundle", naming.FHIR_XML)
    with pytest.raises(NotificationError):
        parse_notification(b'<Task xmlns="http://hl7.org/fhir"/>', naming.FHIR_XML)


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "resourceType",
                        "entry",
                        "resource",
                        "parameter",
                        "name",
                        "part",
                        "valueString",
                        "valueReference",
                        "type",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_gives_only_typed_errors(data: Any) -> None:
    body = json.dumps(data).encode()
    try:
        parse_notification(body)
    except NotificationError:
        pass


def test_build_subscription_is_valid_twiin_subscription() -> None:
    sub = build_subscription(
        topic=fx.TOPIC,
        endpoint="https://receiver.example.org/fhir/notifications",
        filters=[f"owner={naming.URA_SYSTEM}|12104037"],
        content="full-resource",
        payload=naming.FHIR_XML,
        heartbeat_period=60,
        timeout=30,
        max_count=10,
        headers=["X-Tenant: a"],
    )
    assert validate(sub) == []
    assert sub["status"] == "requested"
    assert sub["channel"]["_payload"]["extension"][0]["valueCode"] == "full-resource"
    assert {e["url"] for e in sub["channel"]["extension"]} == {
        naming.EXT_BACKPORT_HEARTBEAT_PERIOD,
        naming.EXT_BACKPORT_TIMEOUT,
        naming.EXT_BACKPORT_MAX_COUNT,
    }
    off = retired(sub)
    assert off["status"] == "off"
    assert sub["status"] == "requested"


def test_build_subscription_checks_profile_before_sending() -> None:
    with pytest.raises(ProfileValidationError):
        build_subscription(topic=fx.TOPIC, endpoint="https://r.example.org/hook", payload="text/plain")
    with pytest.raises(ProfileValidationError) as info:
        build_subscription(
            topic=fx.TOPIC,
            endpoint="https://r.example.org/hook",
            filters=["owner=x"],
            heartbeat_period=60,
            profile=naming.SD_WORKFLOW_SUBSCRIPTION,
        )
    assert "twiin-wsub-1" in str(info.value)
    ok = build_subscription(
        topic=fx.TOPIC,
        endpoint="https://r.example.org/hook",
        filters=["owner:identifier=https://f.example.org/hcs|wondzorg"],
        heartbeat_period=60,
        profile=naming.SD_WORKFLOW_SUBSCRIPTION,
    )
    assert validate(ok) == []


def test_client_create_checks_the_profile_before_sending() -> None:
    posted: list[dict[str, Any]] = []

    def holder(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        posted.append(body)
        return httpx.Response(201, json={**body, "id": "s1"}, headers={"Content-Type": naming.FHIR_JSON})

    base = "https://holder.example.org/fhir"
    good = build_subscription(topic=fx.TOPIC, endpoint="https://r.example.org/hook")
    no_profile = {k: v for k, v in good.items() if k != "meta"}
    bad_channel = {**no_profile, "channel": {**good["channel"], "type": "websocket"}}
    bad_workflow = {**good, "meta": {"profile": [naming.SD_WORKFLOW_SUBSCRIPTION]}}  # no owner filter
    with FhirClient(base, raw=True, transport=httpx.MockTransport(holder)) as fhir:
        client = SubscriptionClient(fhir)
        for bad in (bad_channel, bad_workflow):
            with pytest.raises(ProfileValidationError):
                client.create(bad)
        assert posted == []
        assert client.create(no_profile)["id"] == "s1"  # checked as a Twiin Subscription
    assert posted == [no_profile]

    async def run() -> None:
        async with AsyncFhirClient(base, raw=True, transport=httpx.MockTransport(holder)) as fhir:
            client = AsyncSubscriptionClient(fhir)
            with pytest.raises(ProfileValidationError):
                await client.create(bad_channel)
            assert (await client.create(good))["id"] == "s1"

    anyio.run(run)
    assert posted == [no_profile, good]


def test_queries_and_guards() -> None:
    base = "https://holder.example.org/fhir"
    assert events_query(3, 5, "id-only") == "eventsSinceNumber=3&eventsUntilNumber=5&content=id-only"
    assert events_query() == ""
    assert status_query(["active", "error"]) == "status=active&status=error"
    assert checked_focus(base, f"{base}/Task/1") == f"{base}/Task/1"
    for bad in (
        "https://evil.example.org/fhir/Task/1",
        "http://holder.example.org/fhir/Task/1",
        f"{base}/../x",
    ):
        with pytest.raises(UnsafeEndpoint):
            checked_focus(base, bad)
    with pytest.raises(ExchangeError):
        checked_id("../etc")
    assert checked_id("abc-1.2") == "abc-1.2"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


JSON_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.builds(dict)
    | st.builds(list)
    | st.builds(lambda: {"x": 1})
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([fx.event_id_only, fx.event_full_resource, fx.heartbeat, fx.events_response_auth]),
    st.data(),
)
def test_mutated_notifications_give_only_typed_errors(make: Any, data: st.DataObject) -> None:
    bundle = make()
    target = data.draw(st.sampled_from(_paths(bundle)))
    node = bundle
    for step in target[:-1]:
        node = node[step]
    node[target[-1]] = data.draw(JSON_VALUES)
    for parse in (parse_notification, parse_events_bundle):
        try:
            parse(raw(bundle))
        except NotificationError:
            pass


def test_invalid_focus_resource_does_not_reject_the_notification() -> None:
    bundle = fx.event_full_resource()
    task = fx.ct_invited()
    task["status"] = "on-hold"
    bundle["entry"][1]["resource"] = task
    parsed = parse_notification(raw(bundle))
    assert [i.key for i in parsed.issues] == ["twiin-ct-1"]
