"""TA Notifications end to end over loopback mTLS: our data holder half notifies our client half.

Covers the handshake, heartbeats, events in all three payload modes (JSON and XML), a lost event
recovered through ``$events``, duplicate delivery, delivery failure with retry, the ``error``
status after repeated failure, ``$status`` and retirement with ``status = off``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs
import pytest

from twiin import naming
from twiin._http import client_ssl_context, create_client, server_ssl_context
from twiin.config import RetryPolicy
from twiin.exchange.notifications import (
    AsyncSubscriptionClient,
    AuthorizationHint,
    DeliveryPolicy,
    Dispatcher,
    NotificationReceiver,
    ReceivedEvent,
    SubscriptionClient,
    SubscriptionServerCore,
    build_subscription,
)
from twiin.fhir import AsyncFhirClient, FhirClient, FhirVersion
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import TestPKI
from twiin.testing.server import RunningServer, serve

pytestmark = pytest.mark.e2e
TOPIC = "https://example.org/fhir/SubscriptionTopic/task-status-change"


@attrs.define
class Holder:
    """The data holder: Subscription REST face plus a few Tasks to read."""

    core: SubscriptionServerCore | None = None
    tasks: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def __call__(self, request: IncomingRequest) -> Answer:
        assert self.core is not None
        assert request.peer_certificate is not None  # mTLS everywhere
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["fhir", "Task"] and request.method == "GET" and len(parts) == 3:
            task = self.tasks.get(parts[2])
            return Answer.fhir(200, task) if task else Answer.outcome(404, "not-found", "no such Task")
        return self.core.handle(request)


@attrs.define
class Hook:
    """The client's rest-hook endpoint, able to fail on purpose."""

    receiver: NotificationReceiver | None = None
    fail_next: int = 0
    always_fail: bool = False
    hits: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def __call__(self, request: IncomingRequest) -> Answer:
        assert self.receiver is not None
        with self.lock:
            self.hits += 1
            if self.always_fail or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                return Answer.outcome(503, "transient", "try again later")
        return self.receiver.handle(request)


@attrs.define
class Network:
    holder: Holder
    hook: Hook
    holder_url: str
    hook_url: str
    client: SubscriptionClient
    dispatcher: Dispatcher
    events: list[ReceivedEvent]
    async_client_ctx: Any


@pytest.fixture(scope="module")
def network(pki: TestPKI) -> Iterator[Network]:
    holder_id = pki.issue_server(ura="11111111", uzi_number="900000111").credentials()
    client_id = pki.issue_server(ura="22222222", uzi_number="900000222").credentials()
    holder, hook = Holder(), Hook()
    events: list[ReceivedEvent] = []
    with (
        serve(holder, server_ssl_context(holder_id, pki.trust_anchors)) as holder_srv,
        serve(hook, server_ssl_context(client_id, pki.trust_anchors)) as hook_srv,
    ):
        base = holder_srv.base_url + "/fhir"
        holder.core = SubscriptionServerCore(base, topics=[TOPIC])
        client_ctx = client_ssl_context(client_id, pki.trust_anchors)
        with (
            FhirClient(base, FhirVersion.R4, ssl_context=client_ctx, raw=True) as fhir,
            create_client(
                ssl_context=client_ssl_context(holder_id, pki.trust_anchors), retry=RetryPolicy.disabled()
            ) as push_http,
        ):
            client = SubscriptionClient(fhir)
            hook.receiver = NotificationReceiver(events.append, client)
            dispatcher = Dispatcher(
                holder.core, push_http, DeliveryPolicy(max_attempts=3, backoff_base=0.01, timeout=5)
            )
            yield Network(holder, hook, base, _hook_url(hook_srv), client, dispatcher, events, client_ctx)


def _hook_url(server: RunningServer) -> str:
    return server.url("/notifications")


def subscribe(net: Network, content: str, owner: str, payload: str = naming.FHIR_JSON) -> str:
    resource = build_subscription(
        topic=TOPIC,
        endpoint=net.hook_url,
        filters=[f"owner:identifier=https://f.example.org/hcs|{owner}"],
        content=content,  # type: ignore[arg-type]
        payload=payload,
        heartbeat_period=3600,
    )
    stored = net.client.create(resource)
    url = f"{net.holder_url}/Subscription/{stored['id']}"
    assert net.hook.receiver is not None
    net.hook.receiver.core.expect(url, topic=TOPIC, heartbeat_period=3600)
    [(delivery, ok)] = net.dispatcher.run_pending()
    assert (delivery.kind, ok) == ("handshake", True)
    assert net.client.read(stored["id"])["status"] == "active"
    return str(stored["id"])


def publish(net: Network, owner: str, task_id: str) -> None:
    assert net.holder.core is not None
    task = {"resourceType": "Task", "id": task_id, "status": "requested", "intent": "order"}
    net.holder.tasks[task_id] = task
    net.holder.core.publish(
        TOPIC,
        focus=f"Task/{task_id}",
        resource=task,
        filters={"owner:identifier": f"https://f.example.org/hcs|{owner}"},
        now=_now(),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def of(net: Network, sub_id: str) -> list[ReceivedEvent]:
    return [e for e in net.events if e.subscription.endswith(sub_id)]


def test_handshake_heartbeat_and_id_only_events_with_focus_fetch(network: Network) -> None:
    sid = subscribe(network, "id-only", "a")
    assert network.holder.core is not None
    network.holder.core.heartbeat(sid, _now())
    [(beat, ok)] = network.dispatcher.run_pending()
    assert (beat.kind, ok) == ("heartbeat", True)
    for n in range(3):
        publish(network, "a", f"a{n}")
    assert all(ok for _, ok in network.dispatcher.run_pending())
    got = of(network, sid)
    assert [e.number for e in got] == [1, 2, 3]
    assert [e.resource["id"] for e in got if e.resource] == ["a0", "a1", "a2"]  # fetched over mTLS
    assert all(e.content == "id-only" and e.via == "notification" for e in got)


@pytest.mark.parametrize(
    ("content", "payload"), [("empty", naming.FHIR_JSON), ("full-resource", naming.FHIR_XML)]
)
def test_other_payload_modes(network: Network, content: str, payload: str) -> None:
    owner = f"m-{content}"
    sid = subscribe(network, content, owner, payload)
    publish(network, owner, f"{owner}-1")
    [(delivery, ok)] = network.dispatcher.run_pending()
    assert ok
    assert delivery.headers["content-type"].startswith(payload)
    (event,) = of(network, sid)
    assert event.content == content
    if content == "empty":
        assert (event.event.focus, event.resource) == (None, None)
    else:
        assert event.resource is not None
        assert event.resource["id"] == f"{owner}-1"


def test_lost_event_recovered_via_events_and_duplicates_ignored(network: Network) -> None:
    sid = subscribe(network, "id-only", "lost")
    assert network.holder.core is not None
    for n in range(3):
        publish(network, "lost", f"l{n}")
    pending = network.holder.core.take_pending()
    assert [d.event_numbers for d in pending] == [(1,), (2,), (3,)]
    assert network.dispatcher.deliver(pending[0])
    assert network.dispatcher.deliver(pending[2])  # event 2 was lost on the way
    assert network.dispatcher.deliver(pending[2])  # and event 3 arrives twice
    assert network.dispatcher.deliver(pending[1])  # the lost one shows up late
    got = of(network, sid)
    assert [(e.number, e.via) for e in got] == [(1, "notification"), (2, "catch-up"), (3, "notification")]
    assert got[1].resource is not None
    assert got[1].resource["id"] == "l1"


def test_delivery_failure_is_retried_then_marked_error(network: Network) -> None:
    sid = subscribe(network, "full-resource", "flaky")
    publish(network, "flaky", "f1")
    network.hook.fail_next = 2
    before = network.hook.hits
    [(_, ok)] = network.dispatcher.run_pending()
    assert ok
    assert network.hook.hits - before == 3
    assert [e.number for e in of(network, sid)] == [1]

    network.hook.always_fail = True
    try:
        publish(network, "flaky", "f2")
        [(_, ok)] = network.dispatcher.run_pending()
    finally:
        network.hook.always_fail = False
    assert not ok
    (status,) = network.client.status(sid)
    assert (status.status, status.events_since_start) == ("error", 2)
    publish(network, "flaky", "f3")
    [(_, ok)] = network.dispatcher.run_pending()
    assert ok
    assert [e.number for e in of(network, sid)] == [1, 2, 3]  # 2 recovered through $events
    assert network.client.read(sid)["status"] == "active"


def test_retire_with_status_off(network: Network) -> None:
    sid = subscribe(network, "id-only", "retire")
    assert network.client.retire(sid)["status"] == "off"
    publish(network, "retire", "r1")
    assert network.dispatcher.run_pending() == []
    off = network.client.status(statuses=["off"])
    assert any(s.subscription.endswith(sid) for s in off)


def test_async_client_reads_status_and_events(network: Network) -> None:
    sid = subscribe(network, "id-only", "async")
    publish(network, "async", "x1")
    publish(network, "async", "x2")
    assert network.holder.core is not None
    network.holder.core.take_pending()  # both lost

    async def main() -> None:
        async with AsyncFhirClient(
            network.holder_url, FhirVersion.R4, ssl_context=network.async_client_ctx
        ) as fhir:
            client = AsyncSubscriptionClient(fhir)
            (status,) = await client.status(sid)
            assert status.events_since_start == 2
            answer = await client.events(sid, since=1, until=2)
            assert [e.number for e in answer.status.events] == [1, 2]
            task = await client.fetch(answer.status.events[0].focus or "")
            assert task["id"] == "x1"

    anyio.run(main)
    assert network.hook.receiver is not None
    assert network.hook.receiver.resync(f"{network.holder_url}/Subscription/{sid}") == 2
    assert [e.via for e in of(network, sid)] == ["catch-up", "catch-up"]


def test_authorization_hint_surfaces_without_leaking_into_logs(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    sid = subscribe(network, "id-only", "auth")
    assert network.holder.core is not None
    secret = "Zk3p9QxT2mVb7LcW8nRy"
    network.holder.tasks["auth-1"] = {
        "resourceType": "Task",
        "id": "auth-1",
        "status": "ready",
        "intent": "order",
    }
    network.holder.core.publish(
        TOPIC,
        focus="Task/auth-1",
        filters={"owner:identifier": "https://f.example.org/hcs|auth"},
        now=_now(),
        authorization=AuthorizationHint(
            "https://example.org/CodeSystem/authorization-type", "example", secret
        ),
    )
    [(_, ok)] = network.dispatcher.run_pending()
    assert ok
    (event,) = of(network, sid)
    assert event.authorization is not None
    assert event.authorization.value == secret
    assert secret not in caplog.text
    assert secret not in repr(event)
