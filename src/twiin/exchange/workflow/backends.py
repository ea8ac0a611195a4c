"""Adapters from twiin's FHIR clients to the workflow :class:`~twiin.exchange.workflow.core.Backend`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twiin.errors import ExchangeError
from twiin.exchange.workflow.core import AsyncBackend, Backend, Versioned
from twiin.fhir import AsyncFhirClient, FhirClient, FhirResult, SearchParams, entry_resources

__all__ = ["AsyncFhirBackend", "FhirBackend", "as_async_backend", "as_backend"]


def _dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if dump is None:
        raise ExchangeError("the server returned no resource")
    result: dict[str, Any] = dump(mode="json", by_alias=True, exclude_none=True)
    return result


def _versioned(result: FhirResult) -> Versioned | None:
    if result.json is None:
        return None
    return Versioned.of(result.json, result.version_id)


def _matches(page: FhirResult) -> list[Versioned]:
    return [Versioned.of(_dict(r)) for r in entry_resources(page.json or {}, matches_only=True)]


class FhirBackend:
    """:class:`Backend` over a sync :class:`~twiin.fhir.FhirClient` (R4)."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client

    def _body(self, result: FhirResult, resource_type: str) -> Versioned:
        found = _versioned(result)
        if found is not None:
            return found
        if result.id is None:  # a server answering "return=minimal" without Location
            raise ExchangeError("the server returned neither a resource nor its location")
        return self.read(resource_type, result.id)

    def read(self, resource_type: str, resource_id: str) -> Versioned:
        """GET one resource."""
        return self._body(self.client.read(resource_type, resource_id), resource_type)

    def create(self, resource: dict[str, Any], if_none_exist: str | None) -> Versioned:
        """POST, conditional on ``if_none_exist``."""
        result = self.client.create(resource, if_none_exist=if_none_exist)
        return self._body(result, str(resource.get("resourceType")))

    def update(self, resource: dict[str, Any], version_id: str | None) -> Versioned:
        """PUT with ``If-Match``."""
        return self._body(
            self.client.update(resource, if_match=version_id), str(resource.get("resourceType"))
        )

    def patch(
        self,
        resource_type: str,
        resource_id: str,
        operations: Sequence[dict[str, Any]],
        version_id: str | None,
    ) -> Versioned:
        """PATCH (JSON Patch) with ``If-Match``."""
        result = self.client.patch(resource_type, resource_id, operations, if_match=version_id)
        return self._body(result, resource_type)

    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> list[Versioned]:
        """Every matching resource on every page."""
        out: list[Versioned] = []
        for page in self.client.iter_pages(resource_type, SearchParams.of(list(params))):
            out.extend(_matches(page))
        return out

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; the response Bundle."""
        return dict(self.client.transaction(bundle).result.json or {})


class AsyncFhirBackend:
    """:class:`AsyncBackend` over an :class:`~twiin.fhir.AsyncFhirClient` (R4)."""

    def __init__(self, client: AsyncFhirClient) -> None:
        self.client = client

    async def _body(self, result: FhirResult, resource_type: str) -> Versioned:
        found = _versioned(result)
        if found is not None:
            return found
        if result.id is None:
            raise ExchangeError("the server returned neither a resource nor its location")
        return await self.read(resource_type, result.id)

    async def read(self, resource_type: str, resource_id: str) -> Versioned:
        """GET one resource."""
        return await self._body(await self.client.read(resource_type, resource_id), resource_type)

    async def create(self, resource: dict[str, Any], if_none_exist: str | None) -> Versioned:
        """POST, conditional on ``if_none_exist``."""
        result = await self.client.create(resource, if_none_exist=if_none_exist)
        return await self._body(result, str(resource.get("resourceType")))

    async def update(self, resource: dict[str, Any], version_id: str | None) -> Versioned:
        """PUT with ``If-Match``."""
        result = await self.client.update(resource, if_match=version_id)
        return await self._body(result, str(resource.get("resourceType")))

    async def patch(
        self,
        resource_type: str,
        resource_id: str,
        operations: Sequence[dict[str, Any]],
        version_id: str | None,
    ) -> Versioned:
        """PATCH (JSON Patch) with ``If-Match``."""
        result = await self.client.patch(resource_type, resource_id, operations, if_match=version_id)
        return await self._body(result, resource_type)

    async def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> list[Versioned]:
        """Every matching resource on every page."""
        out: list[Versioned] = []
        async for page in self.client.iter_pages(resource_type, SearchParams.of(list(params))):
            out.extend(_matches(page))
        return out

    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; the response Bundle."""
        return dict((await self.client.transaction(bundle)).result.json or {})


def as_backend(client: FhirClient | Backend) -> Backend:
    """A :class:`Backend` for ``client`` (a FhirClient is wrapped, a Backend is used as it is)."""
    if isinstance(client, FhirClient):
        return FhirBackend(client)
    return client


def as_async_backend(client: AsyncFhirClient | AsyncBackend) -> AsyncBackend:
    """An :class:`AsyncBackend` for ``client`` (an AsyncFhirClient is wrapped)."""
    if isinstance(client, AsyncFhirClient):
        return AsyncFhirBackend(client)
    return client
