"""Sans-I/O helpers shared by the Notified Pull, Push and Pull facades: requests and answers.

Build ``httpx.Request`` values, turn HTTP answers into typed twiin errors (with the sender's
"authorization base revoked" refusal mapped to :class:`~twiin.errors.NotificationCancelled`),
and guard paging links (same origin, under the base, no loops).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin, urlsplit

from twiin._http.compat import httpx
from twiin.errors import (
    ConflictError,
    FHIRError,
    NotAuthorizedError,
    NotFoundError,
    NotificationCancelled,
    PagingError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    UnprocessableError,
)
from twiin.exchange.notified_pull.pull_server import OUTCOME_SYSTEM, REVOKED_CODE

__all__ = ["ACCEPT", "check_response", "json_body", "next_link", "resolve_target", "same_origin"]

ACCEPT = {"Accept": "application/fhir+json"}
_BY_STATUS: dict[int, type[FHIRError]] = {
    404: NotFoundError,
    410: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: UnprocessableError,
    429: RateLimitedError,
}


def resolve_target(base_url: str, target: str) -> str:
    """The absolute URL of a relative ``target`` under ``base_url``."""
    return urljoin(base_url.rstrip("/") + "/", target.lstrip("/"))


def json_body(response: httpx.Response) -> Any:
    """The JSON body, or ``None`` when there is none or it is not JSON."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _revoked(outcome: Any) -> bool:
    if not isinstance(outcome, dict):
        return False
    for issue in outcome.get("issue") or []:
        for coding in ((issue or {}).get("details") or {}).get("coding") or []:
            if coding.get("system") == OUTCOME_SYSTEM and coding.get("code") == REVOKED_CODE:
                return True
    return False


def check_response(response: httpx.Response) -> None:
    """Raise the typed error for a non-2xx answer (revoked authorization base -> NotificationCancelled)."""
    status = response.status_code
    if status < 300:
        return
    outcome = json_body(response)
    method, url = response.request.method, response.request.url
    if status == 403 and _revoked(outcome):
        raise NotificationCancelled("the sender revoked the authorization base")
    if status in (401, 403):
        raise NotAuthorizedError(status, f"{method} refused with {status}", url=url)
    kwargs: dict[str, Any] = {
        "status": status, "method": method, "url": url,
        "headers": dict(response.headers), "operation_outcome": outcome,
    }  # fmt: skip
    if status >= 500:
        raise ServerError(f"server error {status}", **kwargs)
    raise _BY_STATUS.get(status, FHIRError)(f"{method} failed with {status}", **kwargs)


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base_url`` and lies under its path."""
    a, b = urlsplit(url), urlsplit(base_url)
    base_path = b.path.rstrip("/")
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port) and (
        a.path == base_path or a.path.startswith(base_path + "/")
    )


def next_link(bundle: Any, base_url: str, seen: set[str]) -> str | None:
    """The bundle's ``next`` link after the paging guard; ``PagingError`` for other origins or loops."""
    if not isinstance(bundle, dict):
        return None
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            raw = link["url"]
            url = raw if raw.startswith(("https://", "http://")) else resolve_target(base_url, raw)
            if not same_origin(url, base_url):
                raise PagingError("next link points outside the sender's FHIR base")
            if url in seen:
                raise PagingError("paging loop: next link seen before")
            return url
    return None
