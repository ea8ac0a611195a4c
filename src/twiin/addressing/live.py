"""Resolving per call against an mCSD Query Directory (ITI-90), with a small TTL cache.

The queries follow the Generic Functions recipe:

1. ``Organization?identifier=<URA system>|<ura>&_include=Organization:endpoint``
2. departments: ``Organization?partof.identifier=<URA system>|<ura>&_include=Organization:endpoint``
   (a chained search), then ``Organization?partof=Organization/<id>,...`` for deeper levels
3. services: ``HealthcareService?organization=Organization/<id>,...&_include=HealthcareService:endpoint``

``Endpoint?organization=`` is never used: it follows ``Endpoint.managingOrganization``, which
is the software vendor, not the care provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs

from twiin import naming
from twiin.addressing.endpoint import EndpointPolicy, ResolvedEndpoint
from twiin.addressing.mcsd import Malformed, endpoint_record, org_record, service_record
from twiin.addressing.paging import Fetch, follow
from twiin.addressing.payload_types import PayloadType
from twiin.addressing.resolvers import normalise
from twiin.addressing.routing import MAX_DEPTH, MemoryView, build_routes, finish, select
from twiin.addressing.sync import adrive, drive
from twiin.addressing.transport import (
    AsyncBundleFetcher,
    AsyncHttpBundleFetcher,
    BundleFetcher,
    HttpBundleFetcher,
)
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura

__all__ = ["AsyncLiveDirectory", "LiveDirectory", "LiveQuery"]

CHUNK = 40
"""Organisation ids per OR-list in one search URL."""


@attrs.frozen
class LiveQuery:
    """The sans-I/O query plan for one URA against a Query Directory at ``base_url``."""

    base_url: str
    page_size: int = 100
    max_pages: int = 50

    def _url(self, rtype: str, params: Sequence[tuple[str, str]]) -> str:
        query = urlencode([*params, ("_count", str(self.page_size))], safe="|:/,")
        return f"{self.base_url.rstrip('/')}/{rtype}?{query}"

    def run(self, ura: str) -> Generator[Fetch, Any, list[ResolvedEndpoint]]:
        """Every usable endpoint of ``ura`` (all payload types), via :func:`build_routes`."""
        source = self.base_url.rstrip("/")
        view = MemoryView()

        def collect(bundle: Mapping[str, Any]) -> None:
            entries = bundle.get("entry")
            for entry in entries if isinstance(entries, list) else []:
                resource = entry.get("resource") if isinstance(entry, Mapping) else None
                if not isinstance(resource, Mapping):
                    continue
                kind = resource.get("resourceType")
                try:
                    if kind == "Organization":
                        view.add(org_record(source, resource, source))
                    elif kind == "HealthcareService":
                        view.add(service_record(source, resource, source))
                    elif kind == "Endpoint":
                        view.add(endpoint_record(source, resource))
                except Malformed:
                    continue

        token = f"{naming.URA_SYSTEM}|{ura}"
        include = ("_include", "Organization:endpoint")
        yield from self._follow(self._url("Organization", [("identifier", token), include]), collect)
        tops = [o.id for o in view.top_organizations(ura)]
        if not tops:
            return []
        yield from self._follow(self._url("Organization", [("partof.identifier", token), include]), collect)
        frontier = sorted({o.id for o in view.orgs.values() if o.part_of in tops})
        for _ in range(MAX_DEPTH - 1):
            if not frontier:
                break
            before = set(view.orgs)
            for chunk in _chunks(frontier):
                refs = ",".join(f"Organization/{i}" for i in chunk)
                yield from self._follow(self._url("Organization", [("partof", refs), include]), collect)
            frontier = sorted(key[1] for key in view.orgs if key not in before)
        org_ids = sorted({o.id for o in view.orgs.values()})
        for chunk in _chunks(org_ids):
            refs = ",".join(f"Organization/{i}" for i in chunk)
            params = [("organization", refs), ("_include", "HealthcareService:endpoint")]
            yield from self._follow(self._url("HealthcareService", params), collect)
        return build_routes(ura, view)

    def _follow(self, url: str, on_page: Callable[[Mapping[str, Any]], None]) -> Generator[Fetch, Any, int]:
        return (yield from follow(url, self.base_url, on_page, max_pages=self.max_pages))


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


class _TtlCache:
    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._items: dict[str, tuple[float, list[ResolvedEndpoint]]] = {}

    def get(self, key: str) -> list[ResolvedEndpoint] | None:
        found = self._items.get(key)
        if found is None or found[0] <= self.clock():
            self._items.pop(key, None)
            return None
        return found[1]

    def put(self, key: str, value: list[ResolvedEndpoint]) -> None:
        if self.ttl <= 0:
            return
        if len(self._items) >= self.max_entries:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (self.clock() + self.ttl, value)

    def clear(self) -> None:
        self._items.clear()


class LiveDirectory:
    """An :class:`~twiin.addressing.resolvers.AddressResolver` that queries a Query Directory per call.

    Answers are cached per URA for ``ttl`` seconds (``0`` disables the cache); ``page_size``
    is the ``_count`` asked per search page. ``fetcher``
    defaults to an :class:`~twiin.addressing.transport.HttpBundleFetcher` built from ``http``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        fetcher: BundleFetcher | None = None,
        policy: EndpointPolicy | None = None,
        ttl: float = 60.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 100,
        **http: Any,
    ) -> None:
        self.policy = policy or EndpointPolicy()
        self.policy.check(base_url)
        self.query = LiveQuery(base_url, page_size=page_size)
        self._owns = fetcher is None
        self.fetcher: BundleFetcher = fetcher or HttpBundleFetcher(**http)
        self._cache = _TtlCache(ttl, max_entries, clock)

    def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type`` in the Query Directory."""
        typed_ura, payload = normalise(ura, payload_type)
        routes = self._cache.get(typed_ura.value)
        if routes is None:
            routes = drive(self.query.run(typed_ura.value), self.fetcher.get)
            self._cache.put(typed_ura.value, routes)
        return finish(typed_ura, payload, select(routes, payload, fhir_version), self.policy)

    def clear(self) -> None:
        """Forget cached answers."""
        self._cache.clear()

    def close(self) -> None:
        """Close the HTTP pool this object made."""
        if self._owns and isinstance(self.fetcher, HttpBundleFetcher):
            self.fetcher.close()

    def __enter__(self) -> LiveDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncLiveDirectory:
    """Async twin of :class:`LiveDirectory`."""

    def __init__(
        self,
        base_url: str,
        *,
        fetcher: AsyncBundleFetcher | None = None,
        policy: EndpointPolicy | None = None,
        ttl: float = 60.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 100,
        **http: Any,
    ) -> None:
        self.policy = policy or EndpointPolicy()
        self.policy.check(base_url)
        self.query = LiveQuery(base_url, page_size=page_size)
        self._owns = fetcher is None
        self.fetcher: AsyncBundleFetcher = fetcher or AsyncHttpBundleFetcher(**http)
        self._cache = _TtlCache(ttl, max_entries, clock)

    async def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type`` in the Query Directory."""
        typed_ura, payload = normalise(ura, payload_type)
        routes = self._cache.get(typed_ura.value)
        if routes is None:
            routes = await adrive(self.query.run(typed_ura.value), self.fetcher.get)
            self._cache.put(typed_ura.value, routes)
        return finish(typed_ura, payload, select(routes, payload, fhir_version), self.policy)

    def clear(self) -> None:
        """Forget cached answers."""
        self._cache.clear()

    async def close(self) -> None:
        """Close the HTTP pool this object made."""
        if self._owns and isinstance(self.fetcher, AsyncHttpBundleFetcher):
            await self.fetcher.close()

    async def __aenter__(self) -> AsyncLiveDirectory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
