"""TA Notifications profile checks: Subscription, subscription status Parameters, notification Bundle."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from twiin import naming
from twiin.validation._fp import (
    all_,
    and_,
    children,
    equals,
    implies,
    matches,
    of_type,
    or_,
    path,
    typed_equals,
    values,
    where_param,
)
from twiin.validation._report import Report

__all__ = [
    "NOTIFICATION_TYPES",
    "STATUS_TYPES",
    "SUBSCRIPTION_STATUSES",
    "check_notification_bundle",
    "check_subscription",
    "check_subscription_status",
    "check_workflow_subscription",
]

SUBSCRIPTION_STATUSES = frozenset({"requested", "active", "error", "off"})
STATUS_TYPES = frozenset({"handshake", "heartbeat", "event-notification", "query-status", "query-event"})
NOTIFICATION_TYPES = frozenset({"handshake", "heartbeat", "event-notification"})
PAYLOAD_TYPES = frozenset({naming.FHIR_JSON, naming.FHIR_XML})

_TOPIC_URL = re.compile(r"^https?://[^?]+\Z")
_ABSOLUTE = re.compile(r"^https?://[^ ]+\Z")
_OWNER_FILTER = re.compile(r"^owner:identifier=[^| ]+[|][^| ]+\Z")


def _extensions(node: Any, url: str) -> list[Any]:
    return [e for e in children([node], "extension") if isinstance(e, dict) and e.get("url") == url]


def check_subscription(sub: Mapping[str, Any], r: Report) -> None:
    """Twiin Subscription: sub-1 plus status, criteria, rest-hook channel, payload and content."""
    criteria = path(sub, "criteria")
    r.invariant("twiin-sub-1", matches(criteria, _TOPIC_URL), "Subscription")
    for status in r.required(sub, "Subscription", "status"):
        r.binding("Subscription.status", status, SUBSCRIPTION_STATUSES, "subscription-status")
    r.required(sub, "Subscription", "reason")
    r.required(sub, "Subscription", "criteria")
    for index, ext in enumerate(_extensions(sub.get("_criteria"), naming.EXT_BACKPORT_FILTER_CRITERIA)):
        if not isinstance(ext.get("valueString"), str):
            r.add(
                "type",
                f"Subscription.criteria.extension:filterCriteria[{index}]",
                "filterCriteria takes a string value",
            )
    for channel in r.required(sub, "Subscription", "channel"):
        _check_channel(channel, r)


def _check_channel(channel: Any, r: Report) -> None:
    where = "Subscription.channel"
    if not isinstance(channel, dict):
        r.add("type", where, f"{where}: must be an object")
        return
    for kind in r.required(channel, where, "type"):
        r.fixed(f"{where}.type", kind, naming.REST_HOOK)
    r.required(channel, where, "endpoint")
    for payload in r.required(channel, where, "payload"):
        r.binding(f"{where}.payload", payload, PAYLOAD_TYPES, naming.VS_TWIIN_NOTIFICATION_FORMATS)
    contents = _extensions(channel.get("_payload"), naming.EXT_BACKPORT_PAYLOAD_CONTENT)
    r.cardinality(f"{where}.payload.extension:content", contents, 1, 1)
    for ext in contents:
        r.binding(
            f"{where}.payload.extension:content",
            ext.get("valueCode", 0),
            naming.SUBSCRIPTION_PAYLOAD_CONTENTS,
            "backport-content-value-set",
        )
    for name, url, value_key, low in (
        ("heartbeatPeriod", naming.EXT_BACKPORT_HEARTBEAT_PERIOD, "valueUnsignedInt", 0),
        ("timeout", naming.EXT_BACKPORT_TIMEOUT, "valueUnsignedInt", 0),
        ("maxCount", naming.EXT_BACKPORT_MAX_COUNT, "valuePositiveInt", 1),
    ):
        found = _extensions(channel, url)
        r.cardinality(f"{where}.extension:{name}", found, 0, 1)
        for ext in found:
            value = ext.get(value_key)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                r.add("type", f"{where}.extension:{name}", f"{name} takes a {value_key[5:]} value")


def check_workflow_subscription(sub: Mapping[str, Any], r: Report) -> None:
    """Twiin Workflow Subscription: filter 1..1 (wsub-1), heartbeat 1..1, content id-only."""
    filters = _extensions(sub.get("_criteria"), naming.EXT_BACKPORT_FILTER_CRITERIA)
    where = "Subscription.criteria.extension:filterCriteria"
    r.cardinality(where, filters, 1, 1)
    for ext in filters:
        r.invariant("twiin-wsub-1", matches(of_type(values([ext]), "string"), _OWNER_FILTER), where)
    for channel in path(sub, "channel"):
        if not isinstance(channel, dict):
            continue
        found = _extensions(channel, naming.EXT_BACKPORT_HEARTBEAT_PERIOD)
        r.cardinality("Subscription.channel.extension:heartbeatPeriod", found, 1, 1)
        for ext in _extensions(channel.get("_payload"), naming.EXT_BACKPORT_PAYLOAD_CONTENT):
            r.fixed("Subscription.channel.payload.extension:content", ext.get("valueCode"), "id-only")


def check_subscription_status(params: Mapping[str, Any], r: Report, where: str = "Parameters") -> None:
    """Twiin Subscription Status: st-1..5 plus the required parameters."""
    parameters = path(params, "parameter")
    r.cardinality(f"{where}.parameter", parameters, 4, None)
    named = _by_name(parameters)
    for name, high in (("subscription", 1), ("topic", 1), ("status", 1), ("type", 1)):
        r.cardinality(f"{where}.parameter:{name}", named.get(name, []), 1, high)
    r.cardinality(
        f"{where}.parameter:events-since-subscription-start",
        named.get("events-since-subscription-start", []),
        0,
        1,
    )
    for p in named.get("type", []):
        r.binding(
            f"{where}.parameter:type.value",
            p.get("valueCode", 0),
            STATUS_TYPES,
            "subscription-notification-type",
        )

    subscriptions = named.get("subscription", [])
    r.invariant("twiin-st-1", all_(_absolute_reference(p) for p in subscriptions), where)

    events = named.get("notification-event", [])
    is_event = _has_type(named, "event-notification")
    each = all_(
        bool(where_param(path(e, "part"), "event-number") and where_param(path(e, "part"), "timestamp"))
        for e in events
    )
    r.invariant("twiin-st-2", implies(is_event, bool(events) and each), where)

    beats = _has_type(named, "heartbeat")
    since = bool(named.get("events-since-subscription-start", []))
    r.invariant("twiin-st-3", implies(beats, since), where)

    focuses = [f for e in events for f in where_param(path(e, "part"), "focus")]
    r.invariant("twiin-st-4", all_(_absolute_reference(f) for f in focuses), where)

    r.invariant("twiin-st-5", _st5(named, events), where)


def _absolute_reference(param: Any) -> bool | None:
    refs = children([param.get("valueReference")], "reference") if isinstance(param, dict) else []
    return and_(bool(refs), matches(refs, _ABSOLUTE))


def _by_name(parameters: list[Any]) -> dict[str, list[Any]]:
    named: dict[str, list[Any]] = {}
    for p in parameters:
        if isinstance(p, dict):
            named.setdefault(str(p.get("name")), []).append(p)
    return named


def _has_type(named: dict[str, list[Any]], code: str) -> bool:
    return any(typed_equals(values([p]), code) is True for p in named.get("type", []))


def _st5(named: dict[str, list[Any]], events: list[Any]) -> bool | None:
    def per_event(event: Any) -> bool:
        parts = path(event, "part")
        auth_type = where_param(parts, "authorization-type")
        auth_value = where_param(parts, "authorization-value")
        return (
            len(auth_type) <= 1
            and len(auth_value) <= 1
            and bool(auth_type) == bool(auth_value)
            and all(bool(of_type(values([p]), "Coding")) for p in auth_type)
            and all(bool(of_type(values([p]), "string")) for p in auth_value)
        )

    parts = [p for e in events for p in path(e, "part")]
    has_auth = any(
        isinstance(p, dict) and p.get("name") in ("authorization-type", "authorization-value") for p in parts
    )
    in_event = any(
        or_(typed_equals(values([p]), "event-notification"), typed_equals(values([p]), "query-event")) is True
        for p in named.get("type", [])
    )
    return and_(all_(per_event(e) for e in events), implies(has_auth, in_event))


def check_notification_bundle(bundle: Mapping[str, Any], r: Report) -> None:
    """Twiin Subscription Notification: ntf-1..4, history type, status Parameters as first entry."""
    r.fixed("Bundle.type", bundle.get("type"), "history")
    r.required(bundle, "Bundle", "type")
    entries = path(bundle, "entry")
    r.cardinality("Bundle.entry", entries, 1, None)
    first = entries[0] if entries else None
    status = path(first, "resource")
    if first is not None and (
        len(status) != 1 or not isinstance(status[0], dict) or status[0].get("resourceType") != "Parameters"
    ):
        r.add(
            "type", "Bundle.entry[0].resource", "the first entry must be the subscription status Parameters"
        )
        status = []
    if status:
        check_subscription_status(status[0], r, "Bundle.entry[0].resource")
    parameters = path(status[0], "parameter") if status else []

    types = values(where_param(parameters, "type"))
    ntf1 = all_(or_(*(typed_equals([t], code) for code in sorted(NOTIFICATION_TYPES))) for t in types)
    r.invariant("twiin-ntf-1", ntf1, "Bundle")

    request = path(first, "request")
    subscription_refs = [
        ref
        for p in where_param(parameters, "subscription")
        for ref in children([p.get("valueReference")], "reference")
    ]
    expected = (
        [subscription_refs[0] + "/$status"]
        if subscription_refs and isinstance(subscription_refs[0], str)
        else []
    )
    url_ok = equals(children(request, "url"), expected[0]) if expected else None
    r.invariant(
        "twiin-ntf-2", and_(equals(children(request, "method"), "GET"), url_ok), "Bundle.entry[0].request"
    )

    events = where_param(parameters, "notification-event")
    event_parts = [p for e in events for p in path(e, "part")]
    no_focus = not where_param(event_parts, "focus")
    no_context = not where_param(event_parts, "additional-context")
    r.invariant("twiin-ntf-3", implies(no_focus, no_context and len(entries) == 1), "Bundle")

    rest = entries[1:]
    r.invariant(
        "twiin-ntf-4",
        all_(bool(path(e, "fullUrl")) and bool(path(e, "request")) for e in rest),
        "Bundle.entry",
    )
