"""Parse notification, ``$status`` and ``$events`` Bundles (JSON or XML) into values, with validation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from twiin import naming
from twiin.errors import ModelValidationError, NotificationError
from twiin.exchange.notifications.model import (
    AuthorizationHint,
    Notification,
    NotificationEvent,
    PayloadContent,
    SubscriptionStatus,
)
from twiin.fhir.content import xml_to_dict
from twiin.fhir_version import FhirVersion
from twiin.validation import ValidationIssue, errors_only, validate

__all__ = [
    "MAX_NOTIFICATION_BYTES",
    "load_resource",
    "parse_events_bundle",
    "parse_notification",
    "parse_status_bundle",
    "parse_status_parameters",
]

MAX_NOTIFICATION_BYTES = 8 * 1024 * 1024
_XML_TYPES = ("application/fhir+xml", "application/xml", "text/xml")


def load_resource(
    body: bytes, content_type: str = naming.FHIR_JSON, *, expect: str | None = "Bundle"
) -> dict[str, Any]:
    """FHIR JSON or XML bytes to a JSON dict; hostile or malformed input raises a typed error.

    XML is read through the R4 model and must be an ``expect`` resource (``None``: any type).
    """
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationError("notification body too large", status=413)
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media in _XML_TYPES or (not media and body.lstrip()[:1] == b"<"):
        return _load_xml(body, expect)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotificationError(f"body is not JSON: {type(exc).__name__}", status=400) from None
    if not isinstance(data, dict):
        raise NotificationError("body is not a FHIR resource", status=400)
    return data


def _load_xml(body: bytes, expect: str | None) -> dict[str, Any]:
    try:
        loaded = xml_to_dict(body, FhirVersion.R4)  # hardened parser: no DTD, entities or network
    except ModelValidationError as exc:
        raise NotificationError(f"XML body does not parse: {exc.message}", status=400) from None
    found = str(loaded.get("resourceType"))
    if expect is not None and found != expect:
        raise NotificationError(f"expected a {expect}, got {found[:40]}", status=400)
    return loaded


def _number(text: Any, what: str) -> int:
    if not isinstance(text, str) or not text.isdigit() or len(text) > 18:
        raise NotificationError(f"{what} is not a non-negative whole number", status=400)
    return int(text)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _reference(part: Mapping[str, Any]) -> str | None:
    ref = part.get("valueReference")
    value = ref.get("reference") if isinstance(ref, Mapping) else None
    return value if isinstance(value, str) else None


def _event(parameter: Mapping[str, Any]) -> NotificationEvent:
    parts = [p for p in _list(parameter.get("part")) if isinstance(p, Mapping)]
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for part in parts:
        by_name.setdefault(str(part.get("name")), []).append(part)
    numbers = by_name.get("event-number") or [{}]
    number = _number(numbers[0].get("valueString"), "event-number")
    timestamps = by_name.get("timestamp") or [{}]
    focus = [_reference(p) for p in by_name.get("focus", [])]
    context = tuple(r for r in (_reference(p) for p in by_name.get("additional-context", [])) if r)
    hint = None
    if "authorization-type" in by_name and "authorization-value" in by_name:
        found = by_name["authorization-type"][0].get("valueCoding")
        coding: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        hint = AuthorizationHint(
            _text(coding.get("system")),
            _text(coding.get("code")),
            str(by_name["authorization-value"][0].get("valueString")),
        )
    return NotificationEvent(
        number=number,
        timestamp=_text(timestamps[0].get("valueInstant")),
        focus=focus[0] if focus else None,
        additional_context=context,
        authorization=hint,
    )


def parse_status_parameters(params: Mapping[str, Any]) -> SubscriptionStatus:
    """A subscription status ``Parameters`` (already validated) to a :class:`SubscriptionStatus`."""
    if params.get("resourceType") != "Parameters":
        raise NotificationError("subscription status is not a Parameters resource", status=400)
    values: dict[str, Any] = {}
    events: list[NotificationEvent] = []
    errors: list[str] = []
    for parameter in _list(params.get("parameter")):
        if not isinstance(parameter, Mapping):
            continue
        name = parameter.get("name")
        if name == "notification-event":
            events.append(_event(parameter))
        elif name == "subscription":
            values[name] = _reference(parameter)
        elif name == "error":
            concept = parameter.get("valueCodeableConcept") or {}
            errors.append(str(concept.get("text") or "error"))
        elif isinstance(name, str) and name not in values:
            values[name] = next((v for k, v in parameter.items() if k.startswith("value")), None)
    subscription = values.get("subscription")
    if not isinstance(subscription, str):
        raise NotificationError("subscription status names no subscription", status=400)
    since = values.get("events-since-subscription-start")
    topic = values.get("topic")
    return SubscriptionStatus(
        subscription=subscription,
        topic=topic if isinstance(topic, str) else None,
        status=str(values.get("status")),
        type=str(values.get("type")),
        events_since_start=None if since is None else _number(since, "events-since-subscription-start"),
        events=tuple(events),
        errors=tuple(errors),
    )


def _content(status: SubscriptionStatus, resources: Mapping[str, Any]) -> PayloadContent:
    if not any(e.focus for e in status.events):
        return "empty"
    return "full-resource" if resources else "id-only"


def _bundle_parts(bundle: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Mapping[str, Any]]]:
    entries = [e for e in _list(bundle.get("entry")) if isinstance(e, Mapping)]
    if not entries or not isinstance(entries[0].get("resource"), Mapping):
        raise NotificationError("Bundle has no subscription status entry", status=400)
    resources: dict[str, Mapping[str, Any]] = {}
    for entry in entries[1:]:
        resource, url = entry.get("resource"), entry.get("fullUrl")
        if isinstance(resource, Mapping) and isinstance(url, str):
            resources[url] = resource
    return entries[0]["resource"], resources


_NESTED = re.compile(r"^Bundle\.entry\[[1-9][0-9]*\]\.resource\.")


def _reject(issues: list[ValidationIssue], what: str) -> list[ValidationIssue]:
    """Raise on errors of the notification itself; a carried focus resource's own issues only inform."""
    errors = [i for i in errors_only(issues) if not _NESTED.match(i.path)]
    if errors:
        keys = ", ".join(sorted({i.key for i in errors}))
        raise NotificationError(f"{what} breaks the Twiin profile: {keys}", status=422, issues=errors)
    return issues


def parse_notification(body: bytes | Mapping[str, Any], content_type: str = naming.FHIR_JSON) -> Notification:
    """Parse and validate (ntf-1..4, st-1..5) a notification Bundle POSTed to a rest-hook."""
    bundle = body if isinstance(body, Mapping) else load_resource(body, content_type)
    if bundle.get("resourceType") != "Bundle":
        raise NotificationError("notification is not a Bundle", status=400)
    issues = _reject(validate(bundle, naming.SD_TWIIN_NOTIFICATION), "notification")
    params, resources = _bundle_parts(bundle)
    status = parse_status_parameters(params)
    return Notification(status, _content(status, resources), resources, tuple(issues))


def parse_events_bundle(
    body: bytes | Mapping[str, Any], content_type: str = naming.FHIR_JSON
) -> Notification:
    """Parse a ``$events`` answer (history Bundle whose status has type ``query-event``)."""
    bundle = body if isinstance(body, Mapping) else load_resource(body, content_type)
    if bundle.get("resourceType") != "Bundle":
        raise NotificationError("$events answer is not a Bundle", status=502)
    params, resources = _bundle_parts(bundle)
    issues = _reject(validate(params, naming.SD_TWIIN_SUBSCRIPTION_STATUS), "$events status")
    status = parse_status_parameters(params)
    return Notification(status, _content(status, resources), resources, tuple(issues))


def parse_status_bundle(
    body: bytes | Mapping[str, Any], content_type: str = naming.FHIR_JSON
) -> list[SubscriptionStatus]:
    """Parse a ``$status`` answer (searchset of status Parameters)."""
    bundle = body if isinstance(body, Mapping) else load_resource(body, content_type)
    if bundle.get("resourceType") != "Bundle":
        raise NotificationError("$status answer is not a Bundle", status=502)
    found: list[SubscriptionStatus] = []
    for entry in _list(bundle.get("entry")):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and resource.get("resourceType") == "Parameters":
            _reject(validate(resource, naming.SD_TWIIN_SUBSCRIPTION_STATUS), "$status")
            found.append(parse_status_parameters(resource))
    return found
