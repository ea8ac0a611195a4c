"""Notification receiver core (sans-I/O): validate, track event numbers, find gaps and duplicates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from twiin.errors import NotificationError, UnsafeXML
from twiin.exchange.notifications.model import (
    AuthorizationHint,
    Notification,
    NotificationEvent,
    PayloadContent,
)
from twiin.exchange.notifications.parse import parse_notification
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["ReceivedEvent", "ReceiverCore", "Reception", "SubscriptionProgress"]

log = get_logger(__name__)
_MEDIA = ("application/fhir+json", "application/json", "application/fhir+xml", "application/xml", "text/xml")


@attrs.frozen
class ReceivedEvent:
    """An event handed to the application, with its focus resource when known."""

    subscription: str
    topic: str | None
    event: NotificationEvent
    content: PayloadContent
    resource: Mapping[str, Any] | None = None
    via: Literal["notification", "catch-up"] = "notification"

    @property
    def number(self) -> int:
        """The event number."""
        return self.event.number

    @property
    def authorization(self) -> AuthorizationHint | None:
        """The provisional authorization-type/-value of the event, if the data holder sent one."""
        return self.event.authorization


@attrs.frozen
class Reception:
    """What :meth:`ReceiverCore.receive` made of one POST: the answer and the work to do."""

    answer: Answer
    notification: Notification | None = None
    fresh: tuple[NotificationEvent, ...] = ()
    duplicates: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()


@attrs.frozen
class SubscriptionProgress:
    """Where the receiver stands for one Subscription."""

    subscription: str
    status: str
    last_contiguous: int
    highest: int
    last_seen: datetime | None


@attrs.define
class _Track:
    url: str
    topic: str | None
    heartbeat_period: int | None
    contiguous: int = 0
    extra: set[int] = attrs.field(factory=set)
    status: str = "requested"
    last_seen: datetime | None = None

    def seen(self, number: int) -> bool:
        return number <= self.contiguous or number in self.extra

    def mark(self, number: int) -> None:
        if number <= self.contiguous:
            return
        self.extra.add(number)
        while self.contiguous + 1 in self.extra:
            self.contiguous += 1
            self.extra.discard(self.contiguous)

    def missing(self, upto: int, limit: int) -> tuple[int, ...]:
        top = min(upto, self.contiguous + limit)
        return tuple(n for n in range(self.contiguous + 1, top + 1) if n not in self.extra)


class ReceiverCore:
    """Per-Subscription event tracking for a rest-hook endpoint.

    Register the Subscriptions you created with :meth:`expect`; notifications for others are
    refused unless ``accept_unknown``. ``holders`` names data holder FHIR bases whose handshake
    for a not yet registered Subscription (``[holder]/Subscription/<id>``) registers it: the
    handshake may arrive before ``create`` returned its id; at most ``max_unconfirmed`` of those
    wait for their :meth:`expect` at a time, so a peer cannot grow the table. Events are marked with
    :meth:`processed` once the application has handled them, so a failure leads to a retry
    rather than a lost event.
    """

    def __init__(
        self,
        *,
        accept_unknown: bool = False,
        max_gap: int = 1000,
        holders: Sequence[str] = (),
        max_unconfirmed: int = 100,
    ) -> None:
        self.accept_unknown = accept_unknown
        self.max_gap = max_gap
        self.holders = tuple(h.rstrip("/") + "/Subscription/" for h in holders)
        self.max_unconfirmed = max_unconfirmed
        self._tracks: dict[str, _Track] = {}
        self._unconfirmed: set[str] = set()

    def expect(
        self,
        subscription_url: str,
        *,
        topic: str | None = None,
        heartbeat_period: int | None = None,
        last_event: int = 0,
    ) -> None:
        """Accept notifications for ``subscription_url`` (events up to ``last_event`` count as done)."""
        self._unconfirmed.discard(subscription_url)
        self._tracks[subscription_url] = _Track(
            subscription_url, topic, heartbeat_period, contiguous=last_event
        )

    def forget(self, subscription_url: str) -> None:
        """Stop accepting notifications for a retired Subscription."""
        self._unconfirmed.discard(subscription_url)
        self._tracks.pop(subscription_url, None)

    def progress(self, subscription_url: str) -> SubscriptionProgress:
        """Where the receiver stands for one Subscription."""
        track = self._track(subscription_url)
        highest = max([track.contiguous, *track.extra])
        return SubscriptionProgress(track.url, track.status, track.contiguous, highest, track.last_seen)

    def _track(self, url: str) -> _Track:
        track = self._tracks.get(url)
        if track is None:
            raise NotificationError("notification for an unknown Subscription", status=404)
        return track

    def receive(self, request: IncomingRequest, now: datetime) -> Reception:
        """Validate one POSTed notification and say what is new, duplicate or missing."""
        if request.method.upper() != "POST":
            return Reception(Answer.outcome(405, "not-supported", "notifications are POSTed"))
        if request.content_type and request.content_type not in _MEDIA:
            return Reception(Answer.outcome(415, "not-supported", "send application/fhir+json or +xml"))
        try:
            notification = parse_notification(request.body, request.content_type)
            return self._accept(notification, now)
        except NotificationError as exc:
            log.info("notification refused: %s", exc.message)
            code = {404: "not-found", 429: "throttled"}.get(exc.status, "invalid")
            return Reception(Answer.outcome(exc.status, code, exc.message))
        except UnsafeXML as exc:
            return Reception(Answer.outcome(400, "security", exc.message))

    def _accept(self, notification: Notification, now: datetime) -> Reception:
        status = notification.status
        url = status.subscription
        if url not in self._tracks and self.accept_unknown:
            self.expect(url, topic=status.topic)
        elif url not in self._tracks and self._holder_handshake(notification):
            if len(self._unconfirmed) >= self.max_unconfirmed:
                raise NotificationError("too many handshakes for unconfirmed Subscriptions", status=429)
            self.expect(url, topic=status.topic)
            self._unconfirmed.add(url)
        track = self._track(url)
        if track.topic is not None and status.topic != track.topic:
            raise NotificationError("notification topic does not match the Subscription", status=400)
        track.last_seen = now
        track.status = status.status if status.type != "handshake" else "active"
        ok = Answer(200)
        if status.type == "handshake":
            return Reception(ok, notification)
        if status.type == "heartbeat":
            since = status.events_since_start or 0
            return Reception(ok, notification, missing=track.missing(since, self.max_gap))
        fresh: list[NotificationEvent] = []
        duplicates: list[int] = []
        numbers = set()
        for event in sorted(status.events, key=lambda e: e.number):
            if track.seen(event.number) or event.number in numbers:
                duplicates.append(event.number)
            else:
                fresh.append(event)
            numbers.add(event.number)
        missing: tuple[int, ...] = ()
        if fresh:
            gap = track.missing(fresh[0].number - 1, self.max_gap)
            missing = tuple(n for n in gap if n not in numbers)
        if duplicates:
            log.info("duplicate notification events ignored: %s", duplicates)
        return Reception(ok, notification, tuple(fresh), tuple(duplicates), missing)

    def _holder_handshake(self, notification: Notification) -> bool:
        """A handshake for a Subscription directly under one of ``holders``."""
        url = notification.status.subscription
        if notification.status.type != "handshake" or not url.startswith(self.holders):
            return False
        sub_id = url.rsplit("/Subscription/", 1)[-1]
        return bool(sub_id) and "/" not in sub_id

    def recovered(self, subscription_url: str, answer: Notification) -> list[NotificationEvent]:
        """The not-yet-processed events of a ``$events`` answer, in order."""
        track = self._track(subscription_url)
        if answer.status.subscription != subscription_url:
            raise NotificationError("$events answer is for another Subscription", status=502)
        unique = {e.number: e for e in answer.status.events if not track.seen(e.number)}
        return [unique[n] for n in sorted(unique)]

    def processed(self, subscription_url: str, number: int) -> None:
        """Mark one event as handled (idempotency: it will not be handed out again)."""
        self._track(subscription_url).mark(number)

    def missing(self, subscription_url: str, upto: int) -> tuple[int, ...]:
        """Event numbers up to ``upto`` not processed yet."""
        return self._track(subscription_url).missing(upto, self.max_gap)

    def overdue(self, now: datetime, margin: float = 0.5) -> list[str]:
        """Subscriptions whose heartbeat is late by more than ``margin`` of the period (ask ``$status``)."""
        late: list[str] = []
        for track in self._tracks.values():
            if not track.heartbeat_period or track.last_seen is None:
                continue
            if (now - track.last_seen).total_seconds() > track.heartbeat_period * (1 + margin):
                late.append(track.url)
        return late
