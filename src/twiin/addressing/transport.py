"""Fetching directory Bundles over HTTP: the one network seam of :mod:`twiin.addressing`.

The sync engine and the live resolver only need "GET this absolute URL, give me the Bundle as
a dict, raise a twiin error otherwise". :class:`HttpBundleFetcher` does that on
:mod:`twiin._http` (timeouts, retries on idempotent GETs, size cap, mTLS context); any object
with the same ``get`` can be plugged in instead (e.g. a ``twiin.fhir`` client adapter).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any, Protocol

from twiin import naming
from twiin._http import DEFAULT_MAX_RESPONSE_BYTES, asend, create_async_client, create_client, send
from twiin._http.compat import httpx
from twiin.config import RetryPolicy, Timeouts
from twiin.errors import (
    AddressingError,
    ConflictError,
    FHIRError,
    NotAuthorizedError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    UnprocessableError,
    redact_url,
)

__all__ = [
    "AsyncBundleFetcher",
    "AsyncHttpBundleFetcher",
    "BundleFetcher",
    "HttpBundleFetcher",
    "decode_bundle",
]

_ACCEPT = {"Accept": naming.FHIR_JSON}


class BundleFetcher(Protocol):
    """GET an absolute URL and return its JSON Bundle."""

    def get(self, url: str) -> Mapping[str, Any]:
        """The JSON object at ``url``; non-2xx raises a :class:`~twiin.errors.FHIRError`."""


class AsyncBundleFetcher(Protocol):
    """Async twin of :class:`BundleFetcher`."""

    async def get(self, url: str) -> Mapping[str, Any]:
        """The JSON object at ``url``; non-2xx raises a :class:`~twiin.errors.FHIRError`."""


def _error(response: httpx.Response) -> FHIRError | NotAuthorizedError:
    status = response.status_code
    url = response.request.url
    text = f"directory answered {status} for GET {redact_url(url)}"
    if status in (401, 403):
        return NotAuthorizedError(status, text, url=url)
    cls: type[FHIRError] = {
        404: NotFoundError,
        410: NotFoundError,
        409: ConflictError,
        412: PreconditionFailedError,
        422: UnprocessableError,
        429: RateLimitedError,
    }.get(status, ServerError if status >= 500 else FHIRError)
    return cls(text, status=status, method="GET", url=url, headers=dict(response.headers))


def decode_bundle(response: httpx.Response) -> Mapping[str, Any]:
    """The JSON object of a 2xx answer; raises the twiin error for anything else."""
    if not 200 <= response.status_code < 300:
        raise _error(response)
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise AddressingError(
            f"directory answered invalid JSON for {redact_url(response.request.url)}"
        ) from None
    if not isinstance(data, dict):
        raise AddressingError(
            f"directory answered JSON that is not an object for {redact_url(response.request.url)}"
        )
    return data


class HttpBundleFetcher:
    """:class:`BundleFetcher` on a :mod:`twiin._http` client (own pool unless ``client`` is given)."""

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        ssl_context: ssl.SSLContext | None = None,
        auth: httpx.Auth | None = None,
        transport: httpx.BaseTransport | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._owns = client is None
        self._client = client or create_client(
            ssl_context=ssl_context, auth=auth, transport=transport, timeouts=timeouts, retry=retry
        )
        self._max_bytes = max_bytes

    def get(self, url: str) -> Mapping[str, Any]:
        """GET ``url`` and decode the Bundle."""
        request = self._client.build_request("GET", url, headers=_ACCEPT)
        return decode_bundle(send(self._client, request, max_bytes=self._max_bytes))

    def close(self) -> None:
        """Close the pool if this fetcher made it."""
        if self._owns:
            self._client.close()


class AsyncHttpBundleFetcher:
    """Async twin of :class:`HttpBundleFetcher`."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        ssl_context: ssl.SSLContext | None = None,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._owns = client is None
        self._client = client or create_async_client(
            ssl_context=ssl_context, auth=auth, transport=transport, timeouts=timeouts, retry=retry
        )
        self._max_bytes = max_bytes

    async def get(self, url: str) -> Mapping[str, Any]:
        """GET ``url`` and decode the Bundle."""
        request = self._client.build_request("GET", url, headers=_ACCEPT)
        return decode_bundle(await asend(self._client, request, max_bytes=self._max_bytes))

    async def close(self) -> None:
        """Close the pool if this fetcher made it."""
        if self._owns:
            await self._client.aclose()
