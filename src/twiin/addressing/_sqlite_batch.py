"""Staging and applying one sync batch in the SQLite store (one transaction per batch)."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from twiin.addressing._sqlite_view import SqliteView, endpoint_to_json
from twiin.addressing.mcsd import Malformed, endpoint_record, linked_organizations, org_record, service_record
from twiin.addressing.routing import MAX_DEPTH, build_routes
from twiin.addressing.store import ApplyResult, Rejection, Source, SourceKind, TypeCounts
from twiin.errors import AddressingError

if TYPE_CHECKING:
    from twiin.addressing.sqlite_store import SqliteDirectoryStore

__all__ = ["ALL_CODES", "SqliteBatch", "recompute_routes", "uras_of_source"]

ALL_CODES = "*"
FLUSH_EVERY = 500

_STAGE = (
    "INSERT INTO temp.staging(rtype, rid, ts, body) VALUES (?, ?, ?, ?) ON CONFLICT(rtype, rid) DO UPDATE"
    " SET ts = excluded.ts, body = excluded.body"
    " WHERE excluded.ts IS NOT NULL AND staging.ts IS NOT NULL AND excluded.ts > staging.ts"
)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqliteBatch:
    """A :class:`~twiin.addressing.store.StoreBatch`: staged in a TEMP table, applied atomically.

    Within a batch the newest version of a resource wins (by ``meta.lastUpdated``); on equal or
    unknown times the first one staged wins, matching ``_history``'s newest-first order.
    """

    def __init__(
        self, store: SqliteDirectoryStore, source: Source, *, full: bool, resource_types: tuple[str, ...]
    ) -> None:
        self._store = store
        self.source = source
        self.full = full
        self.resource_types = resource_types
        self._pending: list[tuple[str, str, str | None, str | None]] = []
        if not store.batch_lock.acquire(blocking=False):
            raise AddressingError("another sync batch is open on this directory store")
        self._open = True
        try:
            with store.writing() as conn:
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS staging("
                    "rtype TEXT NOT NULL, rid TEXT NOT NULL, ts TEXT, body TEXT, PRIMARY KEY(rtype, rid))"
                )
                conn.execute("DELETE FROM temp.staging")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._open:
            self._open = False
            self._store.batch_lock.release()

    def _check_open(self) -> None:
        if not self._open:
            raise AddressingError("this sync batch is already committed or discarded")

    def stage(
        self, resource_type: str, resource_id: str, timestamp: str | None, resource: Mapping[str, Any] | None
    ) -> None:
        """Stage an upsert or (``resource=None``) a delete."""
        self._check_open()
        body = None if resource is None else _dump(resource)
        self._pending.append((resource_type, resource_id, timestamp, body))
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        with self._store.writing() as conn:
            conn.execute("BEGIN")
            try:
                conn.executemany(_STAGE, self._pending)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._pending.clear()

    def discard(self) -> None:
        """Drop everything staged."""
        if not self._open:
            return
        self._pending.clear()
        try:
            with self._store.writing() as conn:
                conn.execute("DELETE FROM temp.staging")
        finally:
            self._release()

    def commit(self, *, since: str | None, history_supported: bool | None, now: str) -> ApplyResult:
        """Apply the staged changes and the new cursor in one transaction."""
        self._check_open()
        try:
            self._flush()
            with self._store.writing() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = _apply(conn, self, since, history_supported, now)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                finally:
                    conn.execute("DELETE FROM temp.staging")
            return result
        finally:
            self._release()


def _apply(
    conn: sqlite3.Connection, batch: SqliteBatch, since: str | None, history_supported: bool | None, now: str
) -> ApplyResult:
    source, key = batch.source, batch.source.key
    conn.execute(
        "INSERT INTO sources(key, url, kind, ura) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        (key, source.url, source.kind.value, source.ura),
    )
    counts: dict[str, TypeCounts] = defaultdict(TypeCounts)
    affected: set[str] = uras_of_source(conn, key) if batch.full else set()
    changed: list[tuple[str, str]] = []
    rejected: list[Rejection] = []
    cursor = conn.execute("SELECT rtype, rid, ts, body FROM temp.staging ORDER BY rtype, rid")
    while rows := cursor.fetchmany(FLUSH_EVERY):
        for rtype, rid, ts, body in rows:
            tally = counts[rtype]
            existing = conn.execute(
                "SELECT ts FROM resources WHERE source = ? AND rtype = ? AND rid = ?", (key, rtype, rid)
            ).fetchone()
            if body is None:
                if existing is None:
                    tally.unchanged += 1
                    continue
                if not batch.full:
                    affected |= uras_of_resource(conn, key, rtype, rid)
                delete_resource(conn, key, rtype, rid)
                tally.deleted += 1
                continue
            if existing is not None and existing[0] and ts and ts <= existing[0]:
                tally.unchanged += 1
                continue
            if existing is not None and not batch.full:
                affected |= uras_of_resource(conn, key, rtype, rid)
            try:
                write_resource(conn, source, rtype, rid, ts, json.loads(body), body)
            except Malformed as exc:
                rejected.append(Rejection(rtype, rid, exc.reason, str(source)))
                tally.rejected += 1
                continue
            if existing is None:
                tally.created += 1
            else:
                tally.updated += 1
            changed.append((rtype, rid))
    if batch.full:
        marks = ",".join("?" * len(batch.resource_types))
        gone = conn.execute(
            f"SELECT rtype, rid FROM resources r WHERE source = ? AND rtype IN ({marks}) AND NOT EXISTS"  # noqa: S608
            " (SELECT 1 FROM temp.staging s WHERE s.rtype = r.rtype AND s.rid = r.rid)",
            (key, *batch.resource_types),
        ).fetchall()
        for rtype, rid in gone:
            delete_resource(conn, key, rtype, rid)
            counts[rtype].deleted += 1
        affected |= uras_of_source(conn, key)
    else:
        for rtype, rid in changed:
            affected |= uras_of_resource(conn, key, rtype, rid)
    if source.kind is SourceKind.PROVIDER and source.ura and changed:
        for rejection in unreachable(conn, source, source.ura, changed):
            rejected.append(rejection)
            counts[rejection.resource_type].rejected += 1
    if source.ura:
        affected.add(source.ura)
    recompute_routes(conn, affected)
    conn.execute(
        "UPDATE sources SET since = ?, history_supported = ?,"
        " last_full = CASE WHEN ? THEN ? ELSE last_full END WHERE key = ?",
        (since, None if history_supported is None else int(history_supported), batch.full, now, key),
    )
    return ApplyResult(counts=dict(counts), rejected=tuple(rejected), uras_changed=len(affected))


def write_resource(  # noqa: PLR0917
    conn: sqlite3.Connection, source: Source, rtype: str, rid: str, ts: str | None, resource: Any, body: str
) -> None:
    """Upsert one resource and the routing rows derived from it."""
    if not isinstance(resource, Mapping):
        raise Malformed("resource is not a JSON object")
    key = source.key
    links = linked_organizations(resource, source.url)
    delete_derived(conn, key, rtype, rid)
    conn.execute(
        "INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?, ?)",
        (key, rtype, rid, ts, _dump(list(links)) if links else None, body),
    )
    if rtype == "Organization":
        org = org_record(key, resource, source.url)
        conn.execute(
            "INSERT INTO orgs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, rid, org.ura, org.name, org.part_of, _dump(list(org.endpoints)), int(org.active)),
        )
        _refs(conn, key, "Organization", rid, org.endpoints)
    elif rtype == "HealthcareService":
        svc = service_record(key, resource, source.url)
        conn.execute(
            "INSERT INTO services VALUES (?, ?, ?, ?, ?, ?)",
            (key, rid, svc.provided_by, svc.name, _dump(list(svc.endpoints)), int(svc.active)),
        )
        _refs(conn, key, "HealthcareService", rid, svc.endpoints)
    elif rtype == "Endpoint":
        conn.execute(
            "INSERT INTO endpoints VALUES (?, ?, ?)",
            (key, rid, endpoint_to_json(endpoint_record(key, resource))),
        )


def _refs(conn: sqlite3.Connection, key: str, owner_type: str, owner_id: str, refs: Iterable[str]) -> None:
    conn.executemany(
        "INSERT INTO endpoint_refs VALUES (?, ?, ?, ?)", [(key, ref, owner_type, owner_id) for ref in refs]
    )


def delete_derived(conn: sqlite3.Connection, key: str, rtype: str, rid: str) -> None:
    """Remove the routing rows derived from one resource."""
    if rtype == "Organization":
        conn.execute("DELETE FROM orgs WHERE source = ? AND rid = ?", (key, rid))
    elif rtype == "HealthcareService":
        conn.execute("DELETE FROM services WHERE source = ? AND rid = ?", (key, rid))
    elif rtype == "Endpoint":
        conn.execute("DELETE FROM endpoints WHERE source = ? AND rid = ?", (key, rid))
        return
    else:
        return
    conn.execute(
        "DELETE FROM endpoint_refs WHERE source = ? AND owner_type = ? AND owner_id = ?", (key, rtype, rid)
    )


def delete_resource(conn: sqlite3.Connection, key: str, rtype: str, rid: str) -> None:
    """Remove one resource and its routing rows."""
    delete_derived(conn, key, rtype, rid)
    conn.execute("DELETE FROM resources WHERE source = ? AND rtype = ? AND rid = ?", (key, rtype, rid))


def root_ura(conn: sqlite3.Connection, key: str, org_id: str | None) -> str | None:
    """The URA at the top of ``org_id``'s ``partOf`` chain."""
    for _ in range(MAX_DEPTH + 1):
        if org_id is None:
            return None
        row = conn.execute(
            "SELECT ura, part_of FROM orgs WHERE source = ? AND rid = ?", (key, org_id)
        ).fetchone()
        if row is None:
            return None
        if row[0]:
            return str(row[0])
        org_id = row[1]
    return None


def uras_of_resource(conn: sqlite3.Connection, key: str, rtype: str, rid: str) -> set[str]:
    """The URAs whose endpoints depend on one resource, in the current state."""
    owners: list[str | None] = []
    if rtype == "Organization":
        owners.append(rid)
    elif rtype == "HealthcareService":
        row = conn.execute(
            "SELECT provided_by FROM services WHERE source = ? AND rid = ?", (key, rid)
        ).fetchone()
        owners.append(row[0] if row else None)
    elif rtype == "Endpoint":
        for owner_type, owner_id in conn.execute(
            "SELECT owner_type, owner_id FROM endpoint_refs WHERE source = ? AND endpoint_id = ?", (key, rid)
        ).fetchall():
            if owner_type == "Organization":
                owners.append(owner_id)
            else:
                row = conn.execute(
                    "SELECT provided_by FROM services WHERE source = ? AND rid = ?", (key, owner_id)
                ).fetchone()
                owners.append(row[0] if row else None)
    found = {root_ura(conn, key, owner) for owner in owners}
    return {u for u in found if u}


def uras_of_source(conn: sqlite3.Connection, key: str) -> set[str]:
    """Every URA carried by an organisation of source ``key``."""
    rows = conn.execute("SELECT DISTINCT ura FROM orgs WHERE source = ? AND ura IS NOT NULL", (key,))
    return {str(r[0]) for r in rows}


def recompute_routes(conn: sqlite3.Connection, uras: Iterable[str]) -> None:
    """Rebuild the ``routes`` rows of each URA from the routing tables."""
    view = SqliteView(conn)
    for ura in sorted(uras):
        conn.execute("DELETE FROM routes WHERE ura = ?", (ura,))
        rows: list[tuple[str, str, int, str]] = []
        for position, endpoint in enumerate(build_routes(ura, view)):
            data = _dump(endpoint.to_dict())
            rows.append((ura, ALL_CODES, position, data))
            rows.extend((ura, code, position, data) for code in {p.code for p in endpoint.payload_types})
        conn.executemany("INSERT INTO routes VALUES (?, ?, ?, ?)", rows)


def unreachable(
    conn: sqlite3.Connection, source: Source, ura: str, changed: Iterable[tuple[str, str]]
) -> list[Rejection]:
    """Changed resources of a provider directory that do not link to its registering organisation."""
    key = source.key
    tree = {str(r[0]) for r in conn.execute("SELECT rid FROM orgs WHERE source = ? AND ura = ?", (key, ura))}
    frontier = set(tree)
    for _ in range(MAX_DEPTH):
        following = {
            str(r[0])
            for parent in frontier
            for r in conn.execute("SELECT rid FROM orgs WHERE source = ? AND part_of = ?", (key, parent))
        } - tree
        if not following:
            break
        tree |= following
        frontier = following
    services = {
        str(rid)
        for rid, provided_by in conn.execute("SELECT rid, provided_by FROM services WHERE source = ?", (key,))
        if provided_by in tree
    }
    endpoints = {
        str(endpoint_id)
        for endpoint_id, owner_type, owner_id in conn.execute(
            "SELECT endpoint_id, owner_type, owner_id FROM endpoint_refs WHERE source = ?", (key,)
        )
        if owner_id in (tree if owner_type == "Organization" else services)
    }
    reason = f"does not link to the organisation with URA {ura} that registered this directory"
    rejected: list[Rejection] = []
    for rtype, rid in changed:
        if rtype == "Organization":
            linked = rid in tree
        elif rtype == "HealthcareService":
            linked = rid in services
        elif rtype == "Endpoint":
            linked = rid in endpoints
        elif rtype == "Practitioner":
            linked = True
        else:
            row = conn.execute(
                "SELECT links FROM resources WHERE source = ? AND rtype = ? AND rid = ?", (key, rtype, rid)
            ).fetchone()
            linked = bool(row and row[0] and tree.intersection(json.loads(row[0])))
        if not linked:
            rejected.append(Rejection(rtype, rid, reason, str(source)))
    return rejected
