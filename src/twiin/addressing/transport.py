"""Fetching directory Bundles over HTTP: the one network seam of :mod:`twiin.addressing`.

The sync engine and the live resolver only need "GET this absolute URL, give me the Bundle as
a dict, raise a twiin error otherwise". :class:`HttpBundleFetcher` does that with
:class:`~twiin.fhir.FhirClient` in raw mode (same-origin checks, FHIR error mapping), one per
directory origin, all sharing one :mod:`twiin._http` connection pool (timeouts, retries on
idempotent GETs, size cap, mTLS context). Anything with the same ``get`` can be plugged in.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from twiin._http import DEFAULT_MAX_RESPONSE_BYTES, create_async_client, create_client
from twiin._http.compat import httpx
from twiin.config import RetryPolicy, Timeouts
from twiin.errors import AddressingError, ModelValidationError, UnsafeEndpoint, redact_url
from twiin.fhir import AsyncFhirClient, FhirClient, FhirResult
from twiin.fhir_version import FhirVersion

__all__ = ["AsyncBundleFetcher", "AsyncHttpBundleFetcher", "BundleFetcher", "HttpBundleFetcher", "origin_of"]

MAX_ORIGINS = 4096


class BundleFetcher(Protocol):
    """GET an absolute URL and return its JSON Bundle."""

    def get(self, url: str) -> Mapping[str, Any]:
        """The JSON object at ``url``; non-2xx raises a :class:`~twiin.errors.FHIRError`."""


class AsyncBundleFetcher(Protocol):
    """Async twin of :class:`BundleFetcher`."""

    async def get(self, url: str) -> Mapping[str, Any]:
        """The JSON object at ``url``; non-2xx raises a :class:`~twiin.errors.FHIRError`."""


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``; :class:`UnsafeEndpoint` when it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeEndpoint(f"invalid URL {redact_url(url)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeEndpoint(f"not an http(s) URL: {redact_url(url)}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _bundle(result: FhirResult, url: str) -> Mapping[str, Any]:
    if result.json is None:
        raise AddressingError(f"directory answered an empty body for {redact_url(url)}")
    return result.json


def _decode_error(exc: ModelValidationError, url: str) -> AddressingError:
    return AddressingError(f"directory answered an unreadable body for {redact_url(url)}: {exc.message}")


class HttpBundleFetcher:
    """:class:`BundleFetcher` on :class:`~twiin.fhir.FhirClient` (own pool unless ``client`` is given)."""

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
        self._http = client or create_client(
            ssl_context=ssl_context, auth=auth, transport=transport, timeouts=timeouts, retry=retry
        )
        self._max_bytes = max_bytes
        self._clients: dict[str, FhirClient] = {}

    def _client(self, url: str) -> FhirClient:
        origin = origin_of(url)
        found = self._clients.get(origin)
        if found is None:
            if len(self._clients) >= MAX_ORIGINS:
                self._clients.clear()
            found = FhirClient(origin, FhirVersion.R4, client=self._http, raw=True, max_bytes=self._max_bytes)
            self._clients[origin] = found
        return found

    def get(self, url: str) -> Mapping[str, Any]:
        """GET ``url`` and return the Bundle as a dict."""
        try:
            return _bundle(self._client(url).search_url(url), url)
        except ModelValidationError as exc:
            raise _decode_error(exc, url) from None

    def close(self) -> None:
        """Close the pool if this fetcher made it."""
        if self._owns:
            self._http.close()


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
        self._http = client or create_async_client(
            ssl_context=ssl_context, auth=auth, transport=transport, timeouts=timeouts, retry=retry
        )
        self._max_bytes = max_bytes
        self._clients: dict[str, AsyncFhirClient] = {}

    def _client(self, url: str) -> AsyncFhirClient:
        origin = origin_of(url)
        found = self._clients.get(origin)
        if found is None:
            if len(self._clients) >= MAX_ORIGINS:
                self._clients.clear()
            found = AsyncFhirClient(
                origin, FhirVersion.R4, client=self._http, raw=True, max_bytes=self._max_bytes
            )
            self._clients[origin] = found
        return found

    async def get(self, url: str) -> Mapping[str, Any]:
        """GET ``url`` and return the Bundle as a dict."""
        try:
            return _bundle(await self._client(url).search_url(url), url)
        except ModelValidationError as exc:
            raise _decode_error(exc, url) from None

    async def close(self) -> None:
        """Close the pool if this fetcher made it."""
        if self._owns:
            await self._http.aclose()
