"""The data holder's subscription registry: records, topics and filter matching (sans-I/O)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import attrs

from twiin import naming
from twiin.exchange.notifications.bundles import StoredEvent
from twiin.exchange.notifications.model import PayloadContent

__all__ = ["Filters", "SubscriptionRecord", "filters_match", "parse_filters", "record_from_resource"]

Filters = Mapping[str, str | Collection[str]]


def parse_filters(criteria: Collection[str]) -> tuple[tuple[str, str], ...]:
    """``backport-filter-criteria`` strings (``name=value``, ``&``-joined) as ANDed pairs."""
    pairs: list[tuple[str, str]] = []
    for text in criteria:
        pairs.extend(parse_qsl(text, keep_blank_values=True))
    return tuple(pairs)


def filters_match(pairs: tuple[tuple[str, str], ...], event: Filters) -> bool:
    """True when the event's search-style values satisfy every filter pair."""
    for name, wanted in pairs:
        actual = event.get(name)
        if actual is None:
            return False
        if isinstance(actual, str):
            if actual != wanted:
                return False
        elif wanted not in actual:
            return False
    return True


@attrs.define
class SubscriptionRecord:
    """One Subscription the data holder serves, with its event log and delivery state."""

    id: str
    url: str
    resource: dict[str, Any]
    topic: str
    filters: tuple[tuple[str, str], ...]
    endpoint: str
    payload: str
    content: PayloadContent
    heartbeat_period: int | None
    timeout: int | None
    headers: tuple[tuple[str, str], ...]
    status: str = "requested"
    events: list[StoredEvent] = attrs.field(factory=list)
    events_since_start: int = 0
    last_sent: datetime | None = None
    version: int = 1
    failures: int = 0

    @property
    def workflow(self) -> bool:
        """True for a Twiin Workflow Subscription (its notifications never carry an authorization value)."""
        meta = _dict(self.resource.get("meta"))
        profiles = [str(p).split("|", 1)[0] for p in _list(meta.get("profile"))]
        return naming.SD_WORKFLOW_SUBSCRIPTION in profiles

    def current(self) -> dict[str, Any]:
        """The Subscription resource as stored now (status and version applied)."""
        resource = dict(self.resource)
        resource["id"] = self.id
        resource["status"] = self.status
        meta = dict(_dict(resource.get("meta")))
        meta["versionId"] = str(self.version)
        resource["meta"] = meta
        return resource

    def events_between(self, since: int | None, until: int | None) -> list[StoredEvent]:
        """Stored events with ``since <= number <= until`` (both inclusive, both optional)."""
        low = since if since is not None else 1
        high = until if until is not None else self.events_since_start
        return [e for e in self.events if low <= e.number <= high]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _extension(node: Any, url: str) -> Mapping[str, Any] | None:
    if not isinstance(node, Mapping):
        return None
    for ext in _list(node.get("extension")):
        if isinstance(ext, Mapping) and ext.get("url") == url:
            return ext
    return None


def record_from_resource(resource: Mapping[str, Any], sub_id: str, url: str) -> SubscriptionRecord:
    """A registry record from a validated Twiin Subscription."""
    channel = _dict(resource.get("channel"))
    filters = [
        str(e.get("valueString", ""))
        for e in _list(_dict(resource.get("_criteria")).get("extension"))
        if isinstance(e, Mapping) and e.get("url") == naming.EXT_BACKPORT_FILTER_CRITERIA
    ]
    content_ext = _extension(channel.get("_payload"), naming.EXT_BACKPORT_PAYLOAD_CONTENT) or {}
    heartbeat = _extension(channel, naming.EXT_BACKPORT_HEARTBEAT_PERIOD) or {}
    timeout = _extension(channel, naming.EXT_BACKPORT_TIMEOUT) or {}
    headers: list[tuple[str, str]] = []
    for line in _list(channel.get("header")):
        name, sep, value = str(line).partition(":")
        if sep and name.strip():
            headers.append((name.strip(), value.strip()))
    content = content_ext.get("valueCode", "id-only")
    return SubscriptionRecord(
        id=sub_id,
        url=url,
        resource=dict(resource),
        topic=str(resource.get("criteria")),
        filters=parse_filters(filters),
        endpoint=str(channel.get("endpoint")),
        payload=str(channel.get("payload") or naming.FHIR_JSON),
        content=content if content in naming.SUBSCRIPTION_PAYLOAD_CONTENTS else "id-only",
        heartbeat_period=_int(heartbeat.get("valueUnsignedInt")),
        timeout=_int(timeout.get("valueUnsignedInt")),
        headers=tuple(headers),
        status="requested",
    )
