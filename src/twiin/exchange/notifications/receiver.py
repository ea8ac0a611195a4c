"""Notification receiver facades: ``handle(request) -> Answer`` for a rest-hook endpoint.

They validate and deduplicate through :class:`ReceiverCore`, recover lost events through
``$events``, fetch the focus of id-only events, and hand each new event to ``on_event`` in
order. If ``on_event`` raises, the hook answers 500 so the data holder retries.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

import anyio

from twiin.errors import TwiinError
from twiin.exchange.notifications.client import AsyncSubscriptionClient, SubscriptionClient
from twiin.exchange.notifications.model import Notification, NotificationEvent
from twiin.exchange.notifications.receiver_core import ReceivedEvent, ReceiverCore, Reception
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["AsyncNotificationReceiver", "NotificationReceiver"]

log = get_logger(__name__)
Via = Literal["notification", "catch-up"]


def _now() -> datetime:
    return datetime.now(UTC)


def _sub_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _failed() -> Answer:
    return Answer.outcome(500, "exception", "notification processing failed; please retry")


class NotificationReceiver:
    """Synchronous rest-hook endpoint. ``client`` (optional) talks to the data holder."""

    def __init__(
        self,
        on_event: Callable[[ReceivedEvent], None],
        client: SubscriptionClient | None = None,
        *,
        core: ReceiverCore | None = None,
        fetch_focus: bool = True,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.on_event = on_event
        self.client = client
        self.core = core or ReceiverCore()
        self.fetch_focus = fetch_focus
        self._clock = clock
        self._lock = threading.Lock()

    def handle(self, request: IncomingRequest) -> Answer:
        """Process one POSTed notification and return the HTTP answer for the hook."""
        with self._lock:
            reception = self.core.receive(request, self._clock())
            if reception.notification is None:
                return reception.answer
            try:
                self._work(reception, reception.notification)
            except Exception:
                log.exception("processing a notification failed")
                return _failed()
            return reception.answer

    def _work(self, reception: Reception, notification: Notification) -> None:
        url = notification.status.subscription
        if reception.missing:
            self._catch_up(url, reception.missing)
        for event in reception.fresh:
            self._process(url, notification, event, "notification")

    def _catch_up(self, url: str, missing: tuple[int, ...]) -> None:
        if self.client is None:
            log.warning("%d event(s) missing and no client to call $events", len(missing))
            return
        try:
            answer = self.client.events(_sub_id(url), since=min(missing), until=max(missing))
        except TwiinError as exc:
            log.warning("$events catch-up failed: %s", type(exc).__name__)
            return
        for event in self.core.recovered(url, answer):
            self._process(url, answer, event, "catch-up")

    def _process(self, url: str, notification: Notification, event: NotificationEvent, via: Via) -> None:
        resource = notification.resource_for(event)
        if resource is None and event.focus and self.fetch_focus and self.client is not None:
            resource = self.client.fetch(event.focus)
        item = ReceivedEvent(url, notification.status.topic, event, notification.content, resource, via)
        self.on_event(item)
        self.core.processed(url, event.number)

    def resync(self, subscription_url: str) -> int:
        """Ask ``$status`` and catch up on anything missed; returns the number of events recovered."""
        if self.client is None:
            return 0
        with self._lock:
            before = self.core.progress(subscription_url).last_contiguous
            for status in self.client.status(_sub_id(subscription_url)):
                missing = self.core.missing(subscription_url, status.events_since_start or 0)
                if missing:
                    self._catch_up(subscription_url, missing)
            return self.core.progress(subscription_url).last_contiguous - before

    def check_heartbeats(self) -> list[str]:
        """Resynchronise every Subscription whose heartbeat is late; returns their URLs."""
        late = self.core.overdue(self._clock())
        for url in late:
            self.resync(url)
        return late


class AsyncNotificationReceiver:
    """Async twin of :class:`NotificationReceiver`."""

    def __init__(
        self,
        on_event: Callable[[ReceivedEvent], Awaitable[None]],
        client: AsyncSubscriptionClient | None = None,
        *,
        core: ReceiverCore | None = None,
        fetch_focus: bool = True,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.on_event = on_event
        self.client = client
        self.core = core or ReceiverCore()
        self.fetch_focus = fetch_focus
        self._clock = clock
        self._lock = anyio.Lock()

    async def handle(self, request: IncomingRequest) -> Answer:
        """Process one POSTed notification and return the HTTP answer for the hook."""
        async with self._lock:
            reception = self.core.receive(request, self._clock())
            if reception.notification is None:
                return reception.answer
            try:
                await self._work(reception, reception.notification)
            except Exception:
                log.exception("processing a notification failed")
                return _failed()
            return reception.answer

    async def _work(self, reception: Reception, notification: Notification) -> None:
        url = notification.status.subscription
        if reception.missing:
            await self._catch_up(url, reception.missing)
        for event in reception.fresh:
            await self._process(url, notification, event, "notification")

    async def _catch_up(self, url: str, missing: tuple[int, ...]) -> None:
        if self.client is None:
            log.warning("%d event(s) missing and no client to call $events", len(missing))
            return
        try:
            answer = await self.client.events(_sub_id(url), since=min(missing), until=max(missing))
        except TwiinError as exc:
            log.warning("$events catch-up failed: %s", type(exc).__name__)
            return
        for event in self.core.recovered(url, answer):
            await self._process(url, answer, event, "catch-up")

    async def _process(
        self, url: str, notification: Notification, event: NotificationEvent, via: Via
    ) -> None:
        resource = notification.resource_for(event)
        if resource is None and event.focus and self.fetch_focus and self.client is not None:
            resource = await self.client.fetch(event.focus)
        item = ReceivedEvent(url, notification.status.topic, event, notification.content, resource, via)
        await self.on_event(item)
        self.core.processed(url, event.number)

    async def resync(self, subscription_url: str) -> int:
        """Ask ``$status`` and catch up on anything missed; returns the number of events recovered."""
        if self.client is None:
            return 0
        async with self._lock:
            before = self.core.progress(subscription_url).last_contiguous
            for status in await self.client.status(_sub_id(subscription_url)):
                missing = self.core.missing(subscription_url, status.events_since_start or 0)
                if missing:
                    await self._catch_up(subscription_url, missing)
            return self.core.progress(subscription_url).last_contiguous - before

    async def check_heartbeats(self) -> list[str]:
        """Resynchronise every Subscription whose heartbeat is late; returns their URLs."""
        late = self.core.overdue(self._clock())
        for url in late:
            await self.resync(url)
        return late
