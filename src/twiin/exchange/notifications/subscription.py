"""Subscription client, sans-I/O: build a Twiin Subscription, retire it, operation queries, URL guards."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from twiin import naming
from twiin.errors import ExchangeError, UnsafeEndpoint
from twiin.exchange.notifications.model import PayloadContent
from twiin.validation import declared_profiles, raise_for_errors, validate

__all__ = [
    "build_subscription",
    "checked_focus",
    "checked_id",
    "checked_subscription",
    "events_query",
    "retired",
    "same_origin",
    "status_query",
]


def build_subscription(
    *,
    topic: str,
    endpoint: str,
    filters: Sequence[str] = (),
    content: PayloadContent = "id-only",
    payload: str = naming.FHIR_JSON,
    heartbeat_period: int | None = None,
    timeout: int | None = None,
    max_count: int | None = None,
    reason: str = "Twiin notifications",
    headers: Sequence[str] = (),
    profile: str = naming.SD_TWIIN_SUBSCRIPTION,
) -> dict[str, Any]:
    """A ``requested`` Twiin Subscription, checked against ``profile`` before it is returned.

    ``filters`` are backport filter criteria (``owner:identifier=<system>|<value>``), ANDed.
    Raises :class:`~twiin.errors.ProfileValidationError` when the result breaks the profile.
    """
    channel_ext: list[dict[str, Any]] = []
    if heartbeat_period is not None:
        channel_ext.append(
            {"url": naming.EXT_BACKPORT_HEARTBEAT_PERIOD, "valueUnsignedInt": heartbeat_period}
        )
    if timeout is not None:
        channel_ext.append({"url": naming.EXT_BACKPORT_TIMEOUT, "valueUnsignedInt": timeout})
    if max_count is not None:
        channel_ext.append({"url": naming.EXT_BACKPORT_MAX_COUNT, "valuePositiveInt": max_count})
    channel: dict[str, Any] = {}
    if channel_ext:
        channel["extension"] = channel_ext
    channel["type"] = naming.REST_HOOK
    channel["endpoint"] = endpoint
    channel["payload"] = payload
    channel["_payload"] = {"extension": [{"url": naming.EXT_BACKPORT_PAYLOAD_CONTENT, "valueCode": content}]}
    if headers:
        channel["header"] = list(headers)
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "meta": {"profile": [profile]},
        "status": "requested",
        "reason": reason,
        "criteria": topic,
    }
    if filters:
        resource["_criteria"] = {
            "extension": [{"url": naming.EXT_BACKPORT_FILTER_CRITERIA, "valueString": f} for f in filters]
        }
    resource["channel"] = channel
    raise_for_errors(validate(resource, profile))
    return resource


def checked_subscription(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """``subscription`` as a dict, checked against its Twiin profile before it is sent.

    The profiles come from ``meta.profile``; a Subscription that names none is checked as a
    Twiin Subscription. Raises :class:`~twiin.errors.ProfileValidationError` on any error.
    """
    resource = dict(subscription)
    if declared_profiles(resource):
        raise_for_errors(validate(resource))
    else:
        raise_for_errors(validate(resource, naming.SD_TWIIN_SUBSCRIPTION))
    return resource


def retired(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``subscription`` with ``status = off`` (how a Subscription ends; never DELETE)."""
    resource = copy.deepcopy(dict(subscription))
    resource["status"] = "off"
    return resource


def status_query(statuses: Sequence[str] = ()) -> str:
    """The query of a type-level ``$status`` (``status`` repeated, ORed)."""
    return urlencode([("status", s) for s in statuses])


def events_query(since: int | None = None, until: int | None = None, content: str | None = None) -> str:
    """The query of ``$events`` (both bounds inclusive; ``content`` is a hint)."""
    return urlencode(
        [
            (k, str(v))
            for k, v in (("eventsSinceNumber", since), ("eventsUntilNumber", until), ("content", content))
            if v is not None
        ]
    )


def checked_focus(base: str, url: str) -> str:
    """``url`` if it lies under the data holder's ``base`` (no SSRF through a focus), else refuse."""
    if not same_origin(base, url):
        raise UnsafeEndpoint("focus URL is not on the data holder's FHIR base")
    return url


def checked_id(sub_id: str) -> str:
    """A Subscription id as FHIR allows it (letters, digits, ``-``, ``.``; at most 64)."""
    if not sub_id or len(sub_id) > 64 or not all(c.isalnum() or c in "-." for c in sub_id):
        raise ExchangeError("not a valid FHIR id")
    return sub_id


def same_origin(base: str, url: str) -> bool:
    """True when ``url`` has ``base``'s scheme, host and port and lies under its path."""
    a, b = urlsplit(base), urlsplit(url)
    if (a.scheme, a.netloc) != (b.scheme, b.netloc):
        return False
    prefix = a.path.rstrip("/") + "/"
    return b.path.startswith(prefix) and ".." not in b.path.split("/")
