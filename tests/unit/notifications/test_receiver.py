"""Receiver: handshake/heartbeat/events, duplicates, gaps, catch-up through $events, focus fetch, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from tests.unit.validation import fixtures as fx
from twiin import naming
from twiin.errors import ServerError
from twiin.exchange.notifications import (
    AsyncNotificationReceiver,
    Notification,
    NotificationReceiver,
    ReceivedEvent,
    ReceiverCore,
    SubscriptionServerCore,
    SubscriptionStatus,
    build_subscription,
    parse_events_bundle,
    parse_status_bundle,
)
from twiin.serving import IncomingRequest

BASE = "https://holder.example.org/fhir"
NOW = datetime(2026, 7, 16, 9, 15, tzinfo=UTC)
MATCH = {"owner:identifier": "https://f.example.org/hcs|w"}


def post(body: bytes, content_type: str = naming.FHIR_JSON) -> IncomingRequest:
    return IncomingRequest("POST", "https://receiver.example.org/hook", {"content-type": content_type}, body)


class Holder:
    """A data holder core plus a fake SubscriptionClient that answers from it without HTTP."""

    def __init__(self, content: str = "id-only") -> None:
        self.core = SubscriptionServerCore(BASE)
        resource = build_subscription(
            topic=fx.TOPIC,
            endpoint="https://receiver.example.org/hook",
            filters=["owner:identifier=https://f.example.org/hcs|w"],
            content=content,  # type: ignore[arg-type]
        )
        self.record = self.core.subscribe(resource, NOW)
        self.calls: list[str] = []
        self.fail_events = False

    def take(self) -> list[bytes]:
        out = []
        for d in self.core.take_pending():
            self.core.delivered(d, True, NOW)
            out.append(d.body)
        return out

    def publish(self, n: int = 1) -> list[bytes]:
        for i in range(n):
            self.core.publish(
                fx.TOPIC,
                focus=f"Task/t{i}",
                resource={"resourceType": "Task", "id": f"t{i}"},
                filters=MATCH,
                now=NOW,
            )
        return self.take()

    # the SubscriptionClient surface the receiver uses
    def events(
        self, sub_id: str, since: int | None = None, until: int | None = None, content: str | None = None
    ) -> Notification:
        self.calls.append(f"$events {since}-{until}")
        if self.fail_events:
            raise ServerError("down", status=503)
        query = f"?eventsSinceNumber={since}&eventsUntilNumber={until}"
        answer = self.core.handle(IncomingRequest("GET", f"{BASE}/Subscription/{sub_id}/$events{query}"), NOW)
        return parse_events_bundle(answer.json_body())

    def status(self, sub_id: str | None = None, statuses: Any = ()) -> list[SubscriptionStatus]:
        self.calls.append("$status")
        return parse_status_bundle(
            self.core.handle(IncomingRequest("GET", f"{BASE}/Subscription/{sub_id}/$status"), NOW).json_body()
        )

    def fetch(self, url: str) -> dict[str, Any]:
        self.calls.append(f"GET {url}")
        return {"resourceType": "Task", "id": url.rsplit("/", 1)[-1], "fetched": True}


def receiver(holder: Holder, **kw: Any) -> tuple[NotificationReceiver, list[ReceivedEvent]]:
    got: list[ReceivedEvent] = []
    rx = NotificationReceiver(got.append, holder, clock=lambda: NOW, **kw)  # type: ignore[arg-type]
    rx.core.expect(holder.record.url, topic=fx.TOPIC, heartbeat_period=60)
    return rx, got


def test_handshake_then_events_in_order_with_focus_fetch() -> None:
    holder = Holder()
    rx, got = receiver(holder)
    (hs,) = holder.take()
    assert rx.handle(post(hs)).status == 200
    assert rx.core.progress(holder.record.url).status == "active"
    for body in holder.publish(3):
        assert rx.handle(post(body)).status == 200
    assert [e.number for e in got] == [1, 2, 3]
    assert all(e.via == "notification" and e.resource and e.resource["fetched"] for e in got)
    assert got[0].event.focus == f"{BASE}/Task/t0"
    assert holder.calls == [f"GET {BASE}/Task/t{i}" for i in range(3)]


def test_full_resource_needs_no_fetch_and_empty_has_no_focus() -> None:
    for content, fetched in (("full-resource", False), ("empty", False)):
        holder = Holder(content)
        rx, got = receiver(holder)
        holder.take()
        for body in holder.publish(2):
            rx.handle(post(body))
        assert [e.content for e in got] == [content, content]
        assert holder.calls == []
        if content == "full-resource":
            assert got[0].resource == {"resourceType": "Task", "id": "t0"}
        else:
            assert got[0].resource is None
            assert got[0].event.focus is None
        assert fetched is False


def test_duplicates_are_idempotent() -> None:
    holder = Holder("full-resource")
    rx, got = receiver(holder)
    holder.take()
    (first,) = holder.publish()
    assert rx.handle(post(first)).status == 200
    assert rx.handle(post(first)).status == 200
    assert [e.number for e in got] == [1]
    reception = rx.core.receive(post(first), NOW)
    assert (reception.fresh, reception.duplicates) == ((), (1,))


def test_gap_is_recovered_through_events_before_the_new_event() -> None:
    holder = Holder()
    rx, got = receiver(holder)
    holder.take()
    bodies = holder.publish(4)
    rx.handle(post(bodies[0]))
    rx.handle(post(bodies[3]))  # 2 and 3 were lost
    assert [(e.number, e.via) for e in got] == [
        (1, "notification"),
        (2, "catch-up"),
        (3, "catch-up"),
        (4, "notification"),
    ]
    assert "$events 2-3" in holder.calls
    rx.handle(post(bodies[1]))  # late arrival of a recovered event is a duplicate
    assert len(got) == 4
    assert rx.core.progress(holder.record.url).last_contiguous == 4


def test_failed_catch_up_keeps_the_gap_for_the_next_heartbeat() -> None:
    holder = Holder()
    rx, got = receiver(holder)
    holder.take()
    bodies = holder.publish(3)
    holder.fail_events = True
    rx.handle(post(bodies[2]))
    assert [e.number for e in got] == [3]
    progress = rx.core.progress(holder.record.url)
    assert (progress.last_contiguous, progress.highest) == (0, 3)
    holder.fail_events = False
    beat = holder.core.heartbeat(holder.record.id, NOW)
    holder.core.take_pending()
    assert rx.handle(post(beat.body)).status == 200
    assert sorted(e.number for e in got) == [1, 2, 3]
    assert rx.core.progress(holder.record.url).last_contiguous == 3


def test_resync_after_missed_heartbeat() -> None:
    holder = Holder()
    clock = [NOW]
    got: list[ReceivedEvent] = []
    rx = NotificationReceiver(got.append, holder, clock=lambda: clock[0])  # type: ignore[arg-type]
    rx.core.expect(holder.record.url, topic=fx.TOPIC, heartbeat_period=60)
    (hs,) = holder.take()
    rx.handle(post(hs))
    holder.publish(2)  # both lost
    clock[0] = NOW + timedelta(seconds=200)
    assert rx.check_heartbeats() == [holder.record.url]
    assert [e.number for e in got] == [1, 2]
    assert "$status" in holder.calls


def test_callback_failure_answers_500_and_retry_processes_once() -> None:
    holder = Holder("full-resource")
    holder.take()
    seen: list[int] = []
    fail = [True]

    def on_event(event: ReceivedEvent) -> None:
        if fail[0]:
            raise RuntimeError("database down")
        seen.append(event.number)

    rx = NotificationReceiver(on_event, holder)  # type: ignore[arg-type]
    rx.core.expect(holder.record.url)
    (body,) = holder.publish()
    assert rx.handle(post(body)).status == 500
    fail[0] = False
    assert rx.handle(post(body)).status == 200
    assert rx.handle(post(body)).status == 200
    assert seen == [1]


def test_refusals() -> None:
    holder = Holder()
    rx, got = receiver(holder)
    (hs,) = holder.take()
    stranger = NotificationReceiver(got.append)
    assert stranger.handle(post(hs)).status == 404
    assert (
        NotificationReceiver(got.append, core=ReceiverCore(accept_unknown=True)).handle(post(hs)).status
        == 200
    )
    wrong_topic = ReceiverCore()
    wrong_topic.expect(holder.record.url, topic="https://example.org/other")
    assert wrong_topic.receive(post(hs), NOW).answer.status == 400
    assert rx.handle(IncomingRequest("GET", "https://r/hook")).status == 405
    assert rx.handle(post(hs, "text/plain")).status == 415
    broken = json.loads(hs)
    broken["entry"][0]["request"]["url"] = "https://elsewhere/$status"
    answer = rx.handle(post(json.dumps(broken).encode()))
    assert answer.status == 422
    assert "twiin-ntf-2" in answer.json_body()["issue"][0]["diagnostics"]
    assert rx.handle(post(b"{")).status == 400
    assert got == []


def test_async_receiver_recovers_gap() -> None:
    holder = Holder()

    class AsyncHolder:
        async def events(self, *a: Any, **k: Any) -> Notification:
            return holder.events(*a, **k)

        async def fetch(self, url: str) -> dict[str, Any]:
            return holder.fetch(url)

        async def status(self, *a: Any, **k: Any) -> list[SubscriptionStatus]:
            return holder.status(*a, **k)

    got: list[ReceivedEvent] = []

    async def on_event(event: ReceivedEvent) -> None:
        got.append(event)

    async def main() -> None:
        rx = AsyncNotificationReceiver(on_event, AsyncHolder())  # type: ignore[arg-type]
        rx.core.expect(holder.record.url)
        holder.take()
        bodies = holder.publish(3)
        assert (await rx.handle(post(bodies[2]))).status == 200
        assert (await rx.handle(post(bodies[2]))).status == 200

    anyio.run(main)
    assert [(e.number, e.via) for e in got] == [(1, "catch-up"), (2, "catch-up"), (3, "notification")]


def test_no_authorization_value_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    core = ReceiverCore(accept_unknown=True)
    body = fx.event_id_only()
    body["entry"][0]["resource"]["parameter"][-1]["part"].extend(
        fx.event("42", auth_type="x", auth_value="Zk3p9QxT2mVb7LcW8nRy")[3:]
    )
    reception = core.receive(post(json.dumps(body).encode()), NOW)
    assert reception.fresh[0].authorization is not None
    assert "Zk3p9QxT2mVb7LcW8nRy" not in caplog.text + repr(reception)


def test_a_handshake_from_a_named_holder_registers_its_subscription() -> None:
    holder = Holder()
    (hs,) = holder.take()
    (event,) = holder.publish()
    got: list[ReceivedEvent] = []
    early = NotificationReceiver(got.append, core=ReceiverCore(holders=[BASE + "/"]))
    assert early.handle(post(event)).status == 404  # an event never registers a Subscription
    assert early.handle(post(hs)).status == 200
    assert early.core.progress(holder.record.url).status == "active"
    assert early.handle(post(event)).status == 200
    assert [e.number for e in got] == [1]
    other = NotificationReceiver(got.append, core=ReceiverCore(holders=["https://other.example.org/fhir"]))
    assert other.handle(post(hs)).status == 404


def _handshake_for(handshake: bytes, url: str) -> IncomingRequest:
    bundle = json.loads(handshake)
    for entry in bundle["entry"]:
        for parameter in entry.get("resource", {}).get("parameter", []):
            if parameter["name"] == "subscription":
                parameter["valueReference"]["reference"] = url
                entry["request"]["url"] = f"{url}/$status"
    return post(json.dumps(bundle).encode())


def test_a_holder_handshake_must_name_a_subscription_directly_under_it() -> None:
    (hs,) = Holder().take()
    core = ReceiverCore(holders=[BASE])
    for url in (f"{BASE}/Subscription/", f"{BASE}/Subscription/a/b", f"{BASE}x/Subscription/a"):
        answer = core.receive(_handshake_for(hs, url), NOW).answer
        assert answer.status == 404, (url, answer.body)
    assert core.receive(_handshake_for(hs, f"{BASE}/Subscription/a"), NOW).answer.status == 200


def test_unconfirmed_holder_handshakes_are_bounded() -> None:
    (hs,) = Holder().take()
    core = ReceiverCore(holders=[BASE], max_unconfirmed=2)
    for sub_id in ("a", "b"):
        assert core.receive(_handshake_for(hs, f"{BASE}/Subscription/{sub_id}"), NOW).answer.status == 200
    assert core.receive(_handshake_for(hs, f"{BASE}/Subscription/c"), NOW).answer.status == 429
    core.expect(f"{BASE}/Subscription/a")  # our create() returned: confirmed, a slot is free again
    assert core.receive(_handshake_for(hs, f"{BASE}/Subscription/c"), NOW).answer.status == 200
    core.forget(f"{BASE}/Subscription/b")
    assert core.receive(_handshake_for(hs, f"{BASE}/Subscription/d"), NOW).answer.status == 200
