"""From directory records to the endpoints of one URA (pure; no I/O).

:func:`build_routes` walks an organisation tree (the organisation with the URA, its
departments via ``partOf``, the HealthcareServices they provide) through a
:class:`DirectoryView` and collects every usable endpoint. The SQLite store, the live
Query Directory client and the tests all use this one walk. :func:`select` then picks the
endpoints for a payload type and FHIR version, and :func:`finish` applies the address
policy and the not-found rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from twiin.addressing.endpoint import CareUnit, EndpointPolicy, OrganizationRef, ResolvedEndpoint, UnitKind
from twiin.addressing.mcsd import EndpointRecord, OrgRecord, ServiceRecord
from twiin.addressing.payload_types import PayloadType
from twiin.errors import EndpointNotFound, UnsafeEndpoint
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.redaction import get_logger

__all__ = ["MAX_DEPTH", "DirectoryView", "MemoryView", "build_routes", "finish", "select"]

MAX_DEPTH = 8
"""Department nesting followed below the organisation (bounds hostile ``partOf`` chains)."""

log = get_logger(__name__)


class DirectoryView(Protocol):
    """Read access to directory records, restricted to the sources trusted for a URA."""

    def top_organizations(self, ura: str) -> Sequence[OrgRecord]:
        """Organisations carrying ``ura`` in sources allowed to speak for it."""

    def is_authoritative(self, source: str) -> bool:
        """True for a source that is authoritative for organisation names (LRZa, a query directory)."""

    def children(self, source: str, org_id: str) -> Sequence[OrgRecord]:
        """Departments whose ``partOf`` is ``org_id`` in ``source``."""

    def services(self, source: str, org_id: str) -> Sequence[ServiceRecord]:
        """HealthcareServices provided by ``org_id`` in ``source``."""

    def endpoint(self, source: str, endpoint_id: str) -> EndpointRecord | None:
        """The Endpoint ``endpoint_id`` of ``source``."""


def _org_name(tops: Sequence[OrgRecord], view: DirectoryView) -> str:
    for org in tops:
        if view.is_authoritative(org.source) and org.name:
            return org.name
    return next((o.name for o in tops if o.name), "")


def build_routes(ura: str, view: DirectoryView) -> list[ResolvedEndpoint]:
    """Every usable endpoint of ``ura`` in deterministic order (each Endpoint resource once)."""
    tops = [o for o in view.top_organizations(ura) if o.active]
    if not tops:
        return []
    organization = OrganizationRef(Ura(ura), _org_name(tops, view))
    found: dict[tuple[str, str], ResolvedEndpoint] = {}

    def add(source: str, refs: Iterable[str], unit: CareUnit | None) -> None:
        for ref in refs:
            record = view.endpoint(source, ref)
            if record is None or not record.usable or (source, ref) in found:
                continue
            found[(source, ref)] = ResolvedEndpoint(
                address=record.address,
                organization=organization,
                payload_types=record.payload_types,
                fhir_version=record.fhir_version,
                connection_type=record.connection_type,
                unit=unit,
                endpoint_id=record.id,
                name=record.name,
                source=source,
            )

    seen: set[tuple[str, str]] = set()
    level: list[tuple[OrgRecord, CareUnit | None]] = [(o, None) for o in tops]
    for _depth in range(MAX_DEPTH + 1):
        following: list[tuple[OrgRecord, CareUnit | None]] = []
        for org, unit in level:
            if (org.source, org.id) in seen:
                continue
            seen.add((org.source, org.id))
            add(org.source, org.endpoints, unit)
            for service in view.services(org.source, org.id):
                if service.active:
                    add(
                        org.source,
                        service.endpoints,
                        CareUnit(UnitKind.HEALTHCARE_SERVICE, service.id, service.name),
                    )
            for child in view.children(org.source, org.id):
                if child.active and child.ura in (None, ura):
                    following.append((child, CareUnit(UnitKind.DEPARTMENT, child.id, child.name)))
        if not following:
            break
        level = following
    return sorted(found.values(), key=ResolvedEndpoint.sort_key)


def select(
    endpoints: Iterable[ResolvedEndpoint],
    payload_type: PayloadType,
    fhir_version: FhirVersion | None = None,
) -> list[ResolvedEndpoint]:
    """The endpoints for ``payload_type`` (and ``fhir_version``), one per address, in order.

    With a version, endpoints stating that version come first, then those stating none;
    endpoints stating another version are left out.
    """
    chosen: dict[str, ResolvedEndpoint] = {}
    for endpoint in sorted(endpoints, key=ResolvedEndpoint.sort_key):
        if not endpoint.supports(payload_type):
            continue
        if fhir_version is not None and endpoint.fhir_version not in (fhir_version, None):
            continue
        chosen.setdefault(endpoint.address, endpoint)
    result = list(chosen.values())
    if fhir_version is not None:
        result.sort(key=lambda e: e.fhir_version is None)
    return result


def finish(
    ura: Ura,
    payload_type: PayloadType,
    candidates: Sequence[ResolvedEndpoint],
    policy: EndpointPolicy,
) -> list[ResolvedEndpoint]:
    """Apply the address policy; raise when nothing usable is left.

    Unsafe addresses are skipped (and logged without their query); when every candidate is
    unsafe :class:`~twiin.errors.UnsafeEndpoint` is raised, when there is none
    :class:`~twiin.errors.EndpointNotFound`.
    """
    safe: list[ResolvedEndpoint] = []
    refused: UnsafeEndpoint | None = None
    for endpoint in candidates:
        try:
            policy.check(endpoint.address)
        except UnsafeEndpoint as exc:
            log.warning("skipping endpoint %s of URA %s: %s", endpoint.endpoint_id, ura, exc.message)
            refused = exc
            continue
        safe.append(endpoint)
    if safe:
        return safe
    if refused is not None:
        raise UnsafeEndpoint(
            f"every endpoint of URA {ura} for payload type {payload_type.code!r} was refused: "
            + refused.message
        )
    raise EndpointNotFound(ura, payload_type.code)


class MemoryView:
    """A :class:`DirectoryView` over records held in memory (one live query's answer, tests)."""

    def __init__(
        self, authoritative: Iterable[str] = (), provider_uras: dict[str, str] | None = None
    ) -> None:
        self._authoritative = set(authoritative)
        self._provider_uras = dict(provider_uras or {})
        self.orgs: dict[tuple[str, str], OrgRecord] = {}
        self.service_records: dict[tuple[str, str], ServiceRecord] = {}
        self.endpoints: dict[tuple[str, str], EndpointRecord] = {}

    def add(self, record: OrgRecord | ServiceRecord | EndpointRecord) -> None:
        """Add or replace a record."""
        key = (record.source, record.id)
        if isinstance(record, OrgRecord):
            self.orgs[key] = record
        elif isinstance(record, ServiceRecord):
            self.service_records[key] = record
        else:
            self.endpoints[key] = record

    def _allowed(self, source: str, ura: str) -> bool:
        owner = self._provider_uras.get(source)
        return owner is None or owner == ura

    def top_organizations(self, ura: str) -> Sequence[OrgRecord]:
        return sorted(
            (o for o in self.orgs.values() if o.ura == ura and self._allowed(o.source, ura)),
            key=lambda o: (o.source, o.id),
        )

    def is_authoritative(self, source: str) -> bool:
        return source in self._authoritative or not self._authoritative

    def children(self, source: str, org_id: str) -> Sequence[OrgRecord]:
        return sorted(
            (o for o in self.orgs.values() if o.source == source and o.part_of == org_id), key=lambda o: o.id
        )

    def services(self, source: str, org_id: str) -> Sequence[ServiceRecord]:
        return sorted(
            (s for s in self.service_records.values() if s.source == source and s.provided_by == org_id),
            key=lambda s: s.id,
        )

    def endpoint(self, source: str, endpoint_id: str) -> EndpointRecord | None:
        return self.endpoints.get((source, endpoint_id))
