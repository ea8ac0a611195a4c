"""Routing reads over a SQLite connection (the store's :class:`DirectoryView`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from twiin.addressing.mcsd import EndpointRecord, OrgRecord, ServiceRecord
from twiin.addressing.payload_types import PayloadType
from twiin.addressing.store import SourceKind
from twiin.fhir_version import FhirVersion

__all__ = ["SqliteView", "endpoint_from_json", "endpoint_to_json"]


class SqliteView:
    """:class:`~twiin.addressing.routing.DirectoryView` over one SQLite connection.

    The child and service lookups name their index (``INDEXED BY``): without statistics SQLite
    prefers the ``(source, rid)`` primary key, which scans a whole source per lookup and makes a
    full sync quadratic in the directory size.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._kinds = dict(conn.execute("SELECT key, kind FROM sources"))

    def top_organizations(self, ura: str) -> Sequence[OrgRecord]:
        rows = self._conn.execute(
            "SELECT o.source, o.rid, o.ura, o.name, o.part_of, o.endpoints, o.active FROM orgs o"
            " JOIN sources s ON s.key = o.source WHERE o.ura = ? AND (s.kind != 'provider' OR s.ura = ?)",
            (ura, ura),
        )
        return sorted((_org(r) for r in rows), key=lambda o: (o.source, o.id))

    def is_authoritative(self, source: str) -> bool:
        return self._kinds.get(source) not in (None, SourceKind.PROVIDER.value)

    def children(self, source: str, org_id: str) -> Sequence[OrgRecord]:
        rows = self._conn.execute(
            "SELECT source, rid, ura, name, part_of, endpoints, active FROM orgs INDEXED BY orgs_part_of"
            " WHERE source = ? AND part_of = ?",
            (source, org_id),
        )
        return sorted((_org(r) for r in rows), key=lambda o: o.id)

    def services(self, source: str, org_id: str) -> Sequence[ServiceRecord]:
        rows = self._conn.execute(
            "SELECT source, rid, provided_by, name, endpoints, active FROM services INDEXED BY services_by"
            " WHERE source = ? AND provided_by = ? ORDER BY rid",
            (source, org_id),
        )
        return [
            ServiceRecord(r[0], r[1], r[2], r[3] or "", tuple(json.loads(r[4])), bool(r[5])) for r in rows
        ]

    def endpoint(self, source: str, endpoint_id: str) -> EndpointRecord | None:
        row = self._conn.execute(
            "SELECT data FROM endpoints WHERE source = ? AND rid = ?", (source, endpoint_id)
        ).fetchone()
        return endpoint_from_json(source, endpoint_id, row[0]) if row else None


def _org(r: Sequence[Any]) -> OrgRecord:
    return OrgRecord(r[0], r[1], r[2], r[3] or "", r[4], tuple(json.loads(r[5])), bool(r[6]))


def endpoint_to_json(record: EndpointRecord) -> str:
    """The stored form of an Endpoint record."""
    return json.dumps(
        [
            record.address,
            record.status,
            record.connection_type,
            [[p.system, p.code] for p in record.payload_types],
            record.fhir_version.value if record.fhir_version else None,
            record.name,
        ],
        separators=(",", ":"),
    )


def endpoint_from_json(source: str, rid: str, text: str) -> EndpointRecord:
    """The inverse of :func:`endpoint_to_json`."""
    address, status, conn, payloads, version, name = json.loads(text)
    return EndpointRecord(
        source=source,
        id=rid,
        address=address,
        status=status,
        connection_type=conn,
        payload_types=tuple(
            PayloadType.from_coding({"system": s, "code": c}) or PayloadType(c) for s, c in payloads
        ),
        fhir_version=FhirVersion(version) if version else None,
        name=name,
    )
