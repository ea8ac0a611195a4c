"""Delivery with retries and exponential backoff; failure marks the Subscription error; facade parity."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import anyio
import pytest

from tests.unit.validation import fixtures as fx
from twiin._http import create_async_client, create_client
from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.exchange.notifications import (
    AsyncDispatcher,
    AsyncNotificationReceiver,
    AsyncSubscriptionClient,
    DeliveryPolicy,
    Dispatcher,
    NotificationReceiver,
    SubscriptionClient,
    SubscriptionServerCore,
    build_subscription,
)
from twiin.exchange.notifications.dispatch import outcome

NOW = datetime(2026, 7, 16, 9, 15, tzinfo=UTC)


def core_with_handshake() -> tuple[SubscriptionServerCore, str]:
    core = SubscriptionServerCore("https://holder.example.org/fhir")
    record = core.subscribe(
        build_subscription(topic=fx.TOPIC, endpoint="https://receiver.example.org/hook"), NOW
    )
    return core, record.id


def scripted(statuses: list[int | None], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses.pop(0)
        if status is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status)

    return httpx.MockTransport(handler)


def test_policy_backoff_is_exponential_and_capped() -> None:
    policy = DeliveryPolicy(backoff_base=0.5, backoff_max=3.0)
    assert [policy.delay(n, 1.0 - 1e-9) for n in (1, 2, 3, 4, 5)] == pytest.approx([0.5, 1.0, 2.0, 3.0, 3.0])
    assert policy.delay(2, 0.0) == pytest.approx(0.5)
    assert [outcome(s) for s in (200, 202, 400, 404, 408, 429, 500, 503)] == [
        "ok",
        "ok",
        "fail",
        "fail",
        "retry",
        "retry",
        "retry",
        "retry",
    ]


def test_retries_transient_failures_then_succeeds() -> None:
    core, sid = core_with_handshake()
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    client = create_client(transport=scripted([503, None, 200], seen), retry=RetryPolicy.disabled())
    dispatcher = Dispatcher(
        core,
        client,
        DeliveryPolicy(max_attempts=4, backoff_base=1.0),
        sleep=sleeps.append,
        jitter=lambda: 0.999999,
    )
    [(delivery, ok)] = dispatcher.run_pending()
    assert ok
    assert len(seen) == 3
    assert sleeps == pytest.approx([1.0, 2.0], rel=1e-3)
    assert seen[0].method == "POST"
    assert seen[0].headers["content-type"].startswith("application/fhir+json")
    assert seen[0].content == delivery.body
    assert core.records[sid].status == "active"


def test_gives_up_and_marks_error() -> None:
    core, sid = core_with_handshake()
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    client = create_client(transport=scripted([500, 502, 503], seen), retry=RetryPolicy.disabled())
    dispatcher = Dispatcher(core, client, DeliveryPolicy(max_attempts=3), sleep=sleeps.append)
    [(_, ok)] = dispatcher.run_pending()
    assert not ok
    assert len(seen) == 3
    assert len(sleeps) == 2
    assert core.records[sid].status == "error"


def test_client_errors_are_not_retried() -> None:
    core, sid = core_with_handshake()
    seen: list[httpx.Request] = []
    client = create_client(transport=scripted([422], seen), retry=RetryPolicy.disabled())
    [(_, ok)] = Dispatcher(core, client, sleep=lambda _s: None).run_pending()
    assert not ok
    assert len(seen) == 1
    assert core.records[sid].status == "error"


def test_async_dispatcher_and_heartbeat_tick() -> None:
    core, sid = core_with_handshake()
    seen: list[httpx.Request] = []
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> None:
        async with create_async_client(
            transport=_async(scripted([429, 200, 200], seen)), retry=RetryPolicy.disabled()
        ) as client:
            dispatcher = AsyncDispatcher(core, client, sleep=fake_sleep, clock=lambda: NOW)
            [(_, ok)] = await dispatcher.run_pending()
            assert ok
            core.records[sid].heartbeat_period = 1
            results = await AsyncDispatcher(core, client, clock=lambda: NOW.replace(minute=16)).tick()
            assert [d.kind for d, _ in results] == ["heartbeat"]

    anyio.run(main)
    assert len(sleeps) == 1
    assert core.records[sid].status == "active"


def _async(transport: httpx.MockTransport) -> httpx.MockTransport:
    return transport  # MockTransport serves both sync and async clients


def _public(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "async_"),
    [
        (Dispatcher, AsyncDispatcher),
        (SubscriptionClient, AsyncSubscriptionClient),
        (NotificationReceiver, AsyncNotificationReceiver),
    ],
)
def test_sync_and_async_facades_expose_the_same_methods(sync: type, async_: type) -> None:
    assert _public(sync) == _public(async_)
    for name in _public(async_):
        assert inspect.iscoroutinefunction(getattr(async_, name))
