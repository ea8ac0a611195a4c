"""The synchronous FHIR client: a thin facade over :class:`~twiin.fhir.core.FhirCore`."""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

from twiin._http import DEFAULT_MAX_RESPONSE_BYTES, create_client, send
from twiin._http.compat import httpx
from twiin.config import EndpointConfig, RetryPolicy, Timeouts
from twiin.errors import ConfigurationError
from twiin.fhir.bundles import TransactionResult
from twiin.fhir.calls import Call, RequestSpec
from twiin.fhir.core import FhirCore, Params
from twiin.fhir.result import FhirResult
from twiin.fhir_version import FhirVersion

__all__ = ["FhirClient"]

T = TypeVar("T")


class FhirClient:
    """A FHIR REST client for one endpoint and one FHIR version (STU3 or R4).

    Owns one connection pool unless ``client`` is given; use it as a context manager. ``auth``
    plugs in authentication (e.g. Twiin's token flows). In ``raw`` mode results carry dicts and
    bytes only, skipping model validation. Non-2xx answers raise :class:`~twiin.errors.FHIRError`
    subclasses; invalid 2xx bodies raise :class:`~twiin.errors.ModelValidationError`.
    """

    def __init__(
        self,
        base_url: str,
        version: FhirVersion = FhirVersion.R4,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        auth: httpx.Auth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        raw: bool = False,
        max_pages: int = 1000,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if client is not None and (transport, ssl_context, timeouts, retry) != (None, None, None, None):
            raise ConfigurationError(
                "client", "configure transport, TLS, timeouts and retries on the injected client"
            )
        self.core = FhirCore(base_url, version, raw=raw, max_pages=max_pages)
        self._owns_client = client is None
        self._http = client or create_client(
            ssl_context=ssl_context,
            timeouts=timeouts,
            retry=retry,
            transport=transport,
            auth=auth,
            headers=headers,
        )
        self._auth = auth if client is not None else None
        self._extra_headers = dict(headers or {}) if client is not None else {}
        self._max_bytes = max_bytes

    @classmethod
    def from_endpoint(
        cls,
        endpoint: EndpointConfig,
        *,
        auth: httpx.Auth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.BaseTransport | None = None,
        raw: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> FhirClient:
        """A client for a configured endpoint (base URL, FHIR version, timeouts, retry policy)."""
        if endpoint.fhir_version is None:
            raise ConfigurationError("fhir_version", "the endpoint has no FHIR version configured")
        return cls(
            endpoint.base_url,
            endpoint.fhir_version,
            auth=auth,
            ssl_context=ssl_context,
            transport=transport,
            timeouts=endpoint.timeouts,
            retry=endpoint.retry,
            raw=raw,
            headers=headers,
        )

    @property
    def base_url(self) -> str:
        """The endpoint's base URL (no trailing slash)."""
        return self.core.base_url

    @property
    def version(self) -> FhirVersion:
        """The FHIR version of this endpoint."""
        return self.core.version

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_client:
            self._http.close()

    def exchange(self, spec: RequestSpec) -> httpx.Response:
        """Send one request spec and return the fully read response (transport errors mapped)."""
        request = spec.build(self._http)
        request.headers.update(self._extra_headers)
        if self._auth is not None:
            return send(self._http, request, max_bytes=self._max_bytes, auth=self._auth)
        return send(self._http, request, max_bytes=self._max_bytes)

    def _run(self, call: Call[T]) -> T:
        return call.parse(self.exchange(call.request))

    def read(self, type: str, id: str) -> FhirResult:
        """Read ``Type/id``."""
        return self._run(self.core.read(type, id))

    def vread(self, type: str, id: str, version_id: str) -> FhirResult:
        """Read one version of ``Type/id``."""
        return self._run(self.core.vread(type, id, version_id))

    def create(self, resource: Any, *, if_none_exist: Params = None) -> FhirResult:
        """Create ``resource`` (conditional with ``if_none_exist``); see ``.id``, ``.version_id``."""
        return self._run(self.core.create(resource, if_none_exist=if_none_exist))

    def update(self, resource: Any, *, if_match: str | None = None) -> FhirResult:
        """Update ``resource`` by id; ``if_match`` (version id or ETag) guards against lost updates (412)."""
        return self._run(self.core.update(resource, if_match=if_match))

    def conditional_update(self, type: str, params: Params, resource: Any) -> FhirResult:
        """Update the one ``type`` matching ``params`` (or create it)."""
        return self._run(self.core.conditional_update(type, params, resource))

    def patch(
        self, type: str, id: str, ops: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> FhirResult:
        """Apply a JSON Patch to ``Type/id``."""
        return self._run(self.core.patch(type, id, ops, if_match=if_match))

    def delete(self, type: str, id: str) -> FhirResult:
        """Delete ``Type/id``; an already absent resource (404/410) is not an error."""
        return self._run(self.core.delete(type, id))

    def history(
        self, type: str | None = None, id: str | None = None, *, since: Any = None, count: int | None = None
    ) -> FhirResult:
        """System, type or instance history (a Bundle)."""
        return self._run(self.core.history(type, id, since=since, count=count))

    def search(self, type: str, params: Params = None) -> FhirResult:
        """Search ``type``; ``params`` may be SearchParams, a mapping, or a raw query string."""
        return self._run(self.core.search(type, params))

    def search_url(self, url: str) -> FhirResult:
        """GET a search URL (absolute on this origin, or relative to the base URL)."""
        return self._run(self.core.search_url(url))

    def iter_pages(self, type_or_url: str, params: Params = None) -> Iterator[FhirResult]:
        """Every page of a search, following ``next`` links on this origin only."""
        pager = self.core.pager(type_or_url, params)
        while (spec := pager.next_request()) is not None:
            yield pager.accept(self.exchange(spec))

    def iter_resources(
        self, type_or_url: str, params: Params = None, *, matches_only: bool = False
    ) -> Iterator[Any]:
        """Every resource on every page (models, or dicts in raw mode)."""
        for page in self.iter_pages(type_or_url, params):
            yield from self.core.page_resources(page, matches_only=matches_only)

    def operation(
        self,
        name: str,
        *,
        type: str | None = None,
        id: str | None = None,
        params: Params = None,
        method: Literal["GET", "POST"] = "GET",
        body: Any = None,
    ) -> FhirResult:
        """Invoke ``$name`` at system, type or instance level."""
        return self._run(self.core.operation(name, type=type, id=id, params=params, method=method, body=body))

    def transaction(self, bundle: Any) -> TransactionResult:
        """POST a transaction Bundle; entries are correlated to the response."""
        return self._run(self.core.bundle(bundle, "transaction"))

    def batch(self, bundle: Any) -> TransactionResult:
        """POST a batch Bundle; entries are correlated to the response."""
        return self._run(self.core.bundle(bundle, "batch"))

    def capabilities(self) -> FhirResult:
        """The server's CapabilityStatement (``/metadata``)."""
        return self._run(self.core.capabilities())
