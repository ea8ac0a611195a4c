"""The resolver protocols and :class:`DirectoryCache`, the resolver production code calls.

Every resolver answers ``resolve(ura, payload_type, *, fhir_version=None)`` with all matching
endpoints in a deterministic order (organisation level first), raises
:class:`~twiin.errors.EndpointNotFound` naming the URA and payload type when there is none,
and checks every address against its :class:`~twiin.addressing.endpoint.EndpointPolicy`
before returning it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from twiin.addressing.endpoint import EndpointPolicy, ResolvedEndpoint
from twiin.addressing.payload_types import PayloadType
from twiin.addressing.routing import finish, select
from twiin.addressing.store import DirectoryStore
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura

__all__ = ["AddressResolver", "AsyncAddressResolver", "AsyncDirectoryCache", "DirectoryCache", "normalise"]


@runtime_checkable
class AddressResolver(Protocol):
    """Finds the endpoints of a care organisation for a use case."""

    def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type``; raises ``EndpointNotFound`` when none."""
        ...


@runtime_checkable
class AsyncAddressResolver(Protocol):
    """Async twin of :class:`AddressResolver`."""

    async def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type``; raises ``EndpointNotFound`` when none."""
        ...


def normalise(ura: Ura | str, payload_type: PayloadType | str) -> tuple[Ura, PayloadType]:
    """Typed URA and payload type from what the caller passed."""
    return (ura if isinstance(ura, Ura) else Ura(ura)), PayloadType.parse(payload_type)


class DirectoryCache:
    """Resolves from a synchronised :class:`~twiin.addressing.store.DirectoryStore` (no network)."""

    def __init__(self, store: DirectoryStore, *, policy: EndpointPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or EndpointPolicy()

    def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type`` held in the store."""
        typed_ura, payload = normalise(ura, payload_type)
        candidates = self.store.endpoints(typed_ura.value, payload.code)
        return finish(typed_ura, payload, select(candidates, payload, fhir_version), self.policy)


class AsyncDirectoryCache:
    """Async twin of :class:`DirectoryCache` (a store lookup takes microseconds; it runs inline)."""

    def __init__(self, store: DirectoryStore, *, policy: EndpointPolicy | None = None) -> None:
        self._sync = DirectoryCache(store, policy=policy)
        self.store = store
        self.policy = self._sync.policy

    async def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type`` held in the store."""
        return self._sync.resolve(ura, payload_type, fhir_version=fhir_version)
