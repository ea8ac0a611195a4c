"""Build status Parameters and notification / ``$status`` / ``$events`` Bundles (data holder side)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from twiin import naming
from twiin.exchange.notifications.model import AuthorizationHint, PayloadContent

__all__ = [
    "StoredEvent",
    "events_bundle",
    "instant",
    "notification_bundle",
    "status_bundle",
    "status_parameters",
]


def instant(moment: datetime) -> str:
    """A FHIR instant in UTC with second precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen(repr=False)
class StoredEvent:
    """One event as the data holder keeps it for delivery and ``$events``."""

    number: int
    timestamp: str
    focus: str | None
    resource: Mapping[str, Any] | None = None
    additional_context: tuple[str, ...] = ()
    authorization: AuthorizationHint | None = None
    method: str = "PUT"

    def __repr__(self) -> str:
        return f"StoredEvent({self.number}, focus={'yes' if self.focus else 'no'})"


def _event_parameter(event: StoredEvent, content: PayloadContent) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "event-number", "valueString": str(event.number)},
        {"name": "timestamp", "valueInstant": event.timestamp},
    ]
    if content != "empty" and event.focus:
        parts.append({"name": "focus", "valueReference": {"reference": event.focus}})
        parts.extend(
            {"name": "additional-context", "valueReference": {"reference": ref}}
            for ref in event.additional_context
        )
    if event.authorization is not None:
        coding = {
            k: v for k, v in (("system", event.authorization.system), ("code", event.authorization.code)) if v
        }
        parts.append({"name": "authorization-type", "valueCoding": coding})
        parts.append({"name": "authorization-value", "valueString": event.authorization.value})
    return {"name": "notification-event", "part": parts}


def status_parameters(
    *,
    subscription_url: str,
    topic: str,
    status: str,
    kind: str,
    events_since_start: int | None,
    events: Iterable[StoredEvent] = (),
    content: PayloadContent = "id-only",
) -> dict[str, Any]:
    """A Twiin Subscription Status ``Parameters`` resource."""
    parameters: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": subscription_url}},
        {"name": "topic", "valueCanonical": topic},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
    ]
    if events_since_start is not None:
        parameters.append({"name": "events-since-subscription-start", "valueString": str(events_since_start)})
    parameters.extend(_event_parameter(e, content) for e in events)
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [naming.SD_TWIIN_SUBSCRIPTION_STATUS]},
        "parameter": parameters,
    }


def _relative(url: str) -> str:
    segments = url.rstrip("/").split("/")
    return "/".join(segments[-2:]) if len(segments) >= 2 else url


def _event_entries(events: Sequence[StoredEvent], content: PayloadContent) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    if content == "empty":
        return entries
    for event in events:
        if not event.focus:
            continue
        entry: dict[str, Any] = {"fullUrl": event.focus}
        if content == "full-resource" and event.resource is not None:
            entry["resource"] = dict(event.resource)
        entry["request"] = {"method": event.method, "url": _relative(event.focus)}
        entry["response"] = {"status": "201" if event.method == "POST" else "200"}
        entries.append(entry)
    return entries


def notification_bundle(
    *,
    subscription_url: str,
    topic: str,
    status: str,
    kind: str,
    events_since_start: int,
    now: datetime,
    events: Sequence[StoredEvent] = (),
    content: PayloadContent = "id-only",
    request_url: str | None = None,
    profile: bool = True,
) -> dict[str, Any]:
    """A notification Bundle (``history``): handshake, heartbeat, event-notification or query-event."""
    since = (
        events_since_start
        if kind in ("heartbeat", "event-notification", "query-event", "query-status")
        else None
    )
    params = status_parameters(
        subscription_url=subscription_url,
        topic=topic,
        status=status,
        kind=kind,
        events_since_start=since,
        events=events,
        content=content,
    )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "id": str(uuid.uuid4())}
    if profile:
        bundle["meta"] = {"profile": [naming.SD_TWIIN_NOTIFICATION]}
    bundle["type"] = "history"
    bundle["timestamp"] = instant(now)
    bundle["entry"] = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": params,
            "request": {"method": "GET", "url": request_url or subscription_url + "/$status"},
            "response": {"status": "200"},
        },
        *_event_entries(events, content),
    ]
    return bundle


def events_bundle(
    *,
    subscription_url: str,
    topic: str,
    status: str,
    events_since_start: int,
    now: datetime,
    events: Sequence[StoredEvent],
    content: PayloadContent,
    request_url: str,
) -> dict[str, Any]:
    """The ``$events`` answer: a history Bundle with a ``query-event`` status."""
    return notification_bundle(
        subscription_url=subscription_url,
        topic=topic,
        status=status,
        kind="query-event",
        events_since_start=events_since_start,
        now=now,
        events=events,
        content=content,
        request_url=request_url,
        profile=False,
    )


def status_bundle(statuses: Sequence[Mapping[str, Any]], self_url: str, now: datetime) -> dict[str, Any]:
    """The ``$status`` answer: a searchset with one ``query-status`` Parameters per Subscription."""
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "timestamp": instant(now),
        "total": len(statuses),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": dict(s), "search": {"mode": "match"}}
            for s in statuses
        ],
    }
