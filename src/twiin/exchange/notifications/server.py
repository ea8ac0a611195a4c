"""Data holder (Subscription Server) core: REST face for Subscription, ``$status``, ``$events``,
event numbering and notification Bundles to deliver. Sans-I/O: clocks come in as ``now``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from twiin import naming
from twiin.errors import NotificationError, UnsafeXML
from twiin.exchange.notifications.bundles import (
    StoredEvent,
    events_bundle,
    instant,
    notification_bundle,
    status_bundle,
    status_parameters,
)
from twiin.exchange.notifications.model import AuthorizationHint, PayloadContent
from twiin.exchange.notifications.parse import load_resource
from twiin.exchange.notifications.registry import (
    Filters,
    SubscriptionRecord,
    filters_match,
    record_from_resource,
)
from twiin.fhir_version import FhirVersion
from twiin.negotiation import in_requested_format
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest
from twiin.validation import declared_profiles, errors_only, validate

__all__ = ["Delivery", "SubscriptionServerCore"]

log = get_logger(__name__)
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
Authorize = Callable[[IncomingRequest, SubscriptionRecord | None], bool]


@attrs.frozen(repr=False)
class Delivery:
    """One notification to POST to a rest-hook endpoint."""

    subscription_id: str
    endpoint: str
    body: bytes
    headers: Mapping[str, str]
    kind: str
    event_numbers: tuple[int, ...] = ()
    timeout: float | None = None

    def __repr__(self) -> str:
        return (
            f"Delivery({self.kind}, subscription={self.subscription_id}, events={list(self.event_numbers)})"
        )


def _subscription_body(request: IncomingRequest) -> dict[str, Any]:
    """The Subscription in a create or update body (FHIR JSON or XML)."""
    return load_resource(request.body, request.content_type or naming.FHIR_JSON, expect="Subscription")


def _serialize(bundle: dict[str, Any], payload: str) -> bytes:
    if payload == naming.FHIR_XML:
        from fhir.resources.R4B.bundle import Bundle

        xml = Bundle.model_validate(bundle).model_dump_xml()
        return xml if isinstance(xml, bytes) else str(xml).encode("utf-8")
    return json.dumps(bundle, separators=(",", ":")).encode("utf-8")


class SubscriptionServerCore:
    """Subscriptions per topic and filter, notifications with correct numbering, ``$status``/``$events``.

    ``base_url`` is this server's FHIR base (absolute; used for subscription and focus URLs).
    ``topics`` limits the SubscriptionTopics offered; ``authorize`` decides who may read or
    change which Subscription (default: everyone who reached us over mTLS).
    """

    def __init__(
        self,
        base_url: str,
        *,
        topics: Collection[str] | None = None,
        authorize: Authorize | None = None,
        max_events_kept: int = 10_000,
        allow_insecure_endpoints: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.topics = frozenset(topics) if topics is not None else None
        self.authorize = authorize or (lambda _request, _record: True)
        self.max_events_kept = max_events_kept
        self.allow_insecure_endpoints = allow_insecure_endpoints
        self.records: dict[str, SubscriptionRecord] = {}
        self.pending: list[Delivery] = []
        self._lock = threading.RLock()

    # --- registry --------------------------------------------------------------------------

    def subscribe(self, resource: Mapping[str, Any], now: datetime) -> SubscriptionRecord:
        """Register a requested Subscription after validation and queue its handshake."""
        issues = validate(resource, naming.SD_TWIIN_SUBSCRIPTION)
        for profile in declared_profiles(resource):
            if profile != naming.SD_TWIIN_SUBSCRIPTION:
                issues += validate(resource, profile)
        errors = errors_only(issues)
        if errors:
            keys = ", ".join(sorted({i.key for i in errors}))
            raise NotificationError(
                f"Subscription breaks the Twiin profile: {keys}", status=422, issues=errors
            )
        if resource.get("status") != "requested":
            raise NotificationError("a new Subscription must have status requested", status=422)
        topic = resource.get("criteria")
        if self.topics is not None and topic not in self.topics:
            raise NotificationError("unknown SubscriptionTopic", status=422)
        endpoint = str((resource.get("channel") or {}).get("endpoint", ""))
        if not endpoint.startswith("https://") and not self.allow_insecure_endpoints:
            raise NotificationError("the rest-hook endpoint must be https", status=422)
        sub_id = str(uuid.uuid4())
        record = record_from_resource(resource, sub_id, f"{self.base_url}/Subscription/{sub_id}")
        with self._lock:
            self.records[sub_id] = record
            self.pending.append(self._delivery(record, "handshake", (), now))
        log.info("subscription %s registered for a topic", sub_id)
        return record

    def retire(self, sub_id: str) -> SubscriptionRecord:
        """Set a Subscription to ``off``: no further notifications."""
        with self._lock:
            record = self._record(sub_id)
            record.status = "off"
            record.version += 1
            return record

    def _record(self, sub_id: str) -> SubscriptionRecord:
        record = self.records.get(sub_id)
        if record is None:
            raise NotificationError("unknown Subscription", status=404)
        return record

    # --- events and notifications -------------------------------------------------------------

    def publish(
        self,
        topic: str,
        *,
        focus: str | None,
        now: datetime,
        resource: Mapping[str, Any] | None = None,
        filters: Filters | None = None,
        additional_context: Sequence[str] = (),
        authorization: AuthorizationHint | None = None,
        method: str = "PUT",
    ) -> list[Delivery]:
        """Record an event for every matching Subscription and queue its notification.

        ``focus`` is the absolute URL of the changed resource (relative ones are made absolute
        on ``base_url``); ``filters`` are the event's search-style values (``owner:identifier``).
        """
        focus_url = (
            focus
            if focus is None or focus.startswith(("http://", "https://"))
            else f"{self.base_url}/{focus}"
        )
        created: list[Delivery] = []
        with self._lock:
            for record in self.records.values():
                if record.topic != topic or record.status not in ("active", "error"):
                    continue
                if not filters_match(record.filters, filters or {}):
                    continue
                record.events_since_start += 1
                hint = None if record.workflow else authorization  # TA Workflow: no authorization value
                event = StoredEvent(
                    number=record.events_since_start,
                    timestamp=instant(now),
                    focus=focus_url,
                    resource=resource,
                    additional_context=tuple(additional_context),
                    authorization=hint,
                    method=method,
                )
                record.events.append(event)
                del record.events[: -self.max_events_kept]
                delivery = self._delivery(record, "event-notification", (event,), now)
                self.pending.append(delivery)
                created.append(delivery)
        return created

    def heartbeat(self, sub_id: str, now: datetime) -> Delivery:
        """Queue a heartbeat for one Subscription."""
        with self._lock:
            delivery = self._delivery(self._record(sub_id), "heartbeat", (), now)
            self.pending.append(delivery)
            return delivery

    def due_heartbeats(self, now: datetime) -> list[Delivery]:
        """Queue heartbeats for active Subscriptions silent for ``heartbeatPeriod`` seconds."""
        due: list[Delivery] = []
        with self._lock:
            for record in self.records.values():
                if record.status != "active" or not record.heartbeat_period:
                    continue
                if record.last_sent and (now - record.last_sent).total_seconds() < record.heartbeat_period:
                    continue
                if any(d.subscription_id == record.id for d in self.pending):
                    continue
                due.append(self._delivery(record, "heartbeat", (), now))
            self.pending.extend(due)
        return due

    def take_pending(self) -> list[Delivery]:
        """Remove and return the queued deliveries, oldest first."""
        with self._lock:
            taken, self.pending = self.pending, []
            return taken

    def delivered(self, delivery: Delivery, ok: bool, now: datetime) -> None:
        """Record the outcome of a delivery (after its retries): handshake ok → active, failure → error."""
        with self._lock:
            record = self.records.get(delivery.subscription_id)
            if record is None or record.status == "off":
                return
            record.last_sent = now
            if ok:
                record.failures = 0
                if record.status in ("requested", "error"):
                    record.status = "active"
                    record.version += 1
            else:
                record.failures += 1
                if record.status != "error":
                    record.status = "error"
                    record.version += 1
                log.warning("delivery of a %s to subscription %s failed", delivery.kind, record.id)

    def _delivery(
        self, record: SubscriptionRecord, kind: str, events: Sequence[StoredEvent], now: datetime
    ) -> Delivery:
        bundle = notification_bundle(
            subscription_url=record.url,
            topic=record.topic,
            status=record.status,
            kind=kind,
            events_since_start=record.events_since_start,
            now=now,
            events=events,
            content=record.content,
        )
        headers = {"content-type": f"{record.payload}; charset=utf-8", **dict(record.headers)}
        return Delivery(
            subscription_id=record.id,
            endpoint=record.endpoint,
            body=_serialize(bundle, record.payload),
            headers=headers,
            kind=kind,
            event_numbers=tuple(e.number for e in events),
            timeout=float(record.timeout) if record.timeout else None,
        )

    # --- REST face ----------------------------------------------------------------------------

    def handle(self, request: IncomingRequest, now: datetime | None = None) -> Answer:
        """Answer ``/Subscription`` create/read/update, ``$status`` and ``$events``; DELETE is refused.

        Bodies may be FHIR JSON or XML; answers are XML when the request asks for it
        (``_format`` or ``Accept``), as Twiin requires of a Subscription server.
        """
        return in_requested_format(request, self._handle(request, now), FhirVersion.R4)

    def _handle(self, request: IncomingRequest, now: datetime | None) -> Answer:
        moment = now or datetime.now(UTC)
        base_path = self.base_url.split("://", 1)[-1].partition("/")[2]
        rel = request.path.strip("/")
        if base_path and rel.startswith(base_path.strip("/")):
            rel = rel[len(base_path.strip("/")) :].strip("/")
        parts = rel.split("/")
        try:
            if parts[0] != "Subscription":
                return Answer.outcome(404, "not-found", "only Subscription is served here")
            return self._route(request, parts[1:], moment)
        except NotificationError as exc:
            code = {404: "not-found", 412: "conflict", 403: "forbidden"}.get(exc.status, "processing")
            return Answer.outcome(exc.status, code, exc.message)
        except UnsafeXML as exc:  # a DTD or entity declaration in an XML body
            return Answer.outcome(400, "security", exc.message)

    def _route(self, request: IncomingRequest, parts: list[str], now: datetime) -> Answer:
        method = request.method.upper()
        if parts == [] and method == "POST":
            return self._create(request, now)
        if parts == ["$status"] and method == "GET":
            return self._status(request, None, now)
        if not parts or not _ID.match(parts[0]):
            return Answer.outcome(400, "not-supported", "unsupported Subscription request")
        record = self._record(parts[0])
        if not self.authorize(request, record):
            raise NotificationError("not allowed for this Subscription", status=403)
        rest = parts[1:]
        if rest == [] and method == "GET":
            return self._read(record)
        if rest == [] and method == "PUT":
            return self._update(request, record)
        if rest == [] and method == "DELETE":
            return Answer.outcome(405, "not-supported", "end a Subscription by setting status = off")
        if rest == ["$status"] and method == "GET":
            return self._status(request, record, now)
        if rest == ["$events"] and method == "GET":
            return self._events(request, record, now)
        return Answer.outcome(400, "not-supported", "unsupported Subscription request")

    def _read(self, record: SubscriptionRecord) -> Answer:
        return Answer.fhir(200, record.current(), etag=f'W/"{record.version}"')

    def _create(self, request: IncomingRequest, now: datetime) -> Answer:
        if not self.authorize(request, None):
            raise NotificationError("not allowed to create a Subscription", status=403)
        record = self.subscribe(_subscription_body(request), now)
        return Answer.fhir(
            201,
            record.current(),
            etag=f'W/"{record.version}"',
            location=f"{record.url}/_history/{record.version}",
        )

    def _update(self, request: IncomingRequest, record: SubscriptionRecord) -> Answer:
        wanted = request.headers.get("if-match")
        if wanted and wanted.strip() not in (f'W/"{record.version}"', f'"{record.version}"'):
            raise NotificationError("version conflict (If-Match)", status=412)
        incoming = _subscription_body(request)
        issues = errors_only(validate(incoming, naming.SD_TWIIN_SUBSCRIPTION))
        if issues:
            raise NotificationError("Subscription breaks the Twiin profile", status=422, issues=issues)
        if incoming.get("id") not in (None, record.id):
            raise NotificationError("id in body does not match the URL", status=400)
        candidate = record_from_resource(incoming, record.id, record.url)
        if candidate.content != record.content:
            raise NotificationError("the payload content of a Subscription cannot change", status=422)
        same = (candidate.topic, candidate.filters, candidate.endpoint, candidate.heartbeat_period)
        if same != (record.topic, record.filters, record.endpoint, record.heartbeat_period):
            raise NotificationError("only status = off and channel.payload may change", status=422)
        with self._lock:
            record.payload = candidate.payload
            record.resource["channel"] = incoming.get("channel")
            if incoming.get("status") == "off":
                record.status = "off"
            elif incoming.get("status") != record.status:
                raise NotificationError("a client may only set status off", status=422)
            record.version += 1
        return self._read(record)

    def status_of(self, record: SubscriptionRecord, kind: str = "query-status") -> dict[str, Any]:
        """The status Parameters for ``record``."""
        return status_parameters(
            subscription_url=record.url,
            topic=record.topic,
            status=record.status,
            kind=kind,
            events_since_start=record.events_since_start,
        )

    def _status(self, request: IncomingRequest, record: SubscriptionRecord | None, now: datetime) -> Answer:
        if record is not None:
            chosen = [record]
        else:
            ids = [v for k, v in request.query if k == "id"]
            statuses = [v for k, v in request.query if k == "status"]
            chosen = [
                r
                for r in self.records.values()
                if (not ids or r.id in ids)
                and (not statuses or r.status in statuses)
                and self.authorize(request, r)
            ]
        self_url = request.url.split("?", 1)[0]
        return Answer.fhir(200, status_bundle([self.status_of(r) for r in chosen], self_url, now))

    def _events(self, request: IncomingRequest, record: SubscriptionRecord, now: datetime) -> Answer:
        query = dict(request.query)
        try:
            since = int(query["eventsSinceNumber"]) if "eventsSinceNumber" in query else None
            until = int(query["eventsUntilNumber"]) if "eventsUntilNumber" in query else None
        except ValueError:
            return Answer.outcome(400, "invalid", "eventsSinceNumber/eventsUntilNumber must be numbers")
        content: PayloadContent = record.content
        hint = query.get("content")
        if hint in naming.SUBSCRIPTION_PAYLOAD_CONTENTS:
            content = hint  # type: ignore[assignment]
        events = record.events_between(since, until)
        bundle = events_bundle(
            subscription_url=record.url,
            topic=record.topic,
            status=record.status,
            events_since_start=record.events_since_start,
            now=now,
            events=events,
            content=content,
            request_url=request.url,
        )
        return Answer.fhir(200, bundle)
