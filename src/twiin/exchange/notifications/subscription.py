"""Subscription client, sans-I/O: build a Twiin Subscription, retire it, and the REST requests/answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs

from twiin import naming
from twiin.errors import (
    ConflictError,
    ExchangeError,
    FHIRError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    UnprocessableError,
    UnsafeEndpoint,
)
from twiin.exchange.notifications.model import PayloadContent
from twiin.validation import raise_for_errors, validate

__all__ = ["Call", "build_subscription", "check_answer", "retired", "same_origin"]


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


def retired(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``subscription`` with ``status = off`` (how a Subscription ends; never DELETE)."""
    resource = copy.deepcopy(dict(subscription))
    resource["status"] = "off"
    return resource


@attrs.frozen(repr=False)
class Call:
    """One REST request to the data holder, built without I/O."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | None = None

    def __repr__(self) -> str:
        return f"Call({self.method} {self.url.split('?')[0]})"

    @classmethod
    def create(cls, base: str, resource: Mapping[str, Any]) -> Call:
        """``POST [base]/Subscription``."""
        return cls("POST", f"{base}/Subscription", _json_headers(), _body(resource))

    @classmethod
    def read(cls, base: str, sub_id: str) -> Call:
        """``GET [base]/Subscription/[id]``."""
        return cls("GET", f"{base}/Subscription/{_safe_id(sub_id)}", {"accept": naming.FHIR_JSON})

    @classmethod
    def update(cls, base: str, resource: Mapping[str, Any], version: str | None) -> Call:
        """``PUT [base]/Subscription/[id]`` with ``If-Match`` when the version is known."""
        headers = _json_headers()
        if version:
            headers["if-match"] = f'W/"{version}"'
        return cls(
            "PUT", f"{base}/Subscription/{_safe_id(str(resource.get('id')))}", headers, _body(resource)
        )

    @classmethod
    def status(cls, base: str, sub_id: str | None = None, statuses: Sequence[str] = ()) -> Call:
        """``$status`` at instance level, or at type level filtered by ``status``."""
        if sub_id is not None:
            return cls("GET", f"{base}/Subscription/{_safe_id(sub_id)}/$status", {"accept": naming.FHIR_JSON})
        query = urlencode([("status", s) for s in statuses])
        url = f"{base}/Subscription/$status" + (f"?{query}" if query else "")
        return cls("GET", url, {"accept": naming.FHIR_JSON})

    @classmethod
    def events(
        cls,
        base: str,
        sub_id: str,
        since: int | None = None,
        until: int | None = None,
        content: str | None = None,
    ) -> Call:
        """``GET [base]/Subscription/[id]/$events`` (both bounds inclusive)."""
        params = [
            (k, str(v))
            for k, v in (("eventsSinceNumber", since), ("eventsUntilNumber", until), ("content", content))
            if v is not None
        ]
        url = f"{base}/Subscription/{_safe_id(sub_id)}/$events" + (f"?{urlencode(params)}" if params else "")
        return cls("GET", url, {"accept": naming.FHIR_JSON})

    @classmethod
    def fetch(cls, base: str, url: str) -> Call:
        """``GET`` an absolute focus URL, refused unless it lies under ``base`` (no SSRF)."""
        if not same_origin(base, url):
            raise UnsafeEndpoint("focus URL is not on the data holder's FHIR base")
        return cls("GET", url, {"accept": naming.FHIR_JSON})


def _json_headers() -> dict[str, str]:
    return {"content-type": f"{naming.FHIR_JSON}; charset=utf-8", "accept": naming.FHIR_JSON}


def _body(resource: Mapping[str, Any]) -> bytes:
    return json.dumps(resource, separators=(",", ":")).encode("utf-8")


def _safe_id(sub_id: str) -> str:
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


_ERRORS: dict[int, type[FHIRError]] = {
    404: NotFoundError,
    410: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: UnprocessableError,
    429: RateLimitedError,
}


def check_answer(call: Call, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The JSON resource of a 2xx answer; any other status raises the matching FHIR error."""
    parsed: Any = None
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if 200 <= status < 300:
        if not isinstance(parsed, dict):
            raise FHIRError(
                "answer is not a FHIR JSON resource", status=status, method=call.method, url=call.url
            )
        return parsed
    outcome = (
        parsed if isinstance(parsed, dict) and parsed.get("resourceType") == "OperationOutcome" else None
    )
    kind = _ERRORS.get(status, ServerError if status >= 500 else FHIRError)
    raise kind(
        f"{call.method} Subscription answered {status}",
        status=status,
        method=call.method,
        url=call.url,
        headers=headers,
        operation_outcome=outcome,
    )
