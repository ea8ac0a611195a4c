"""The embedded directory store: SQLite (stdlib), in a file or in memory.

Layout: ``resources`` keeps every synchronised resource per source; ``orgs``, ``services``,
``endpoints`` and ``endpoint_refs`` are the parts routing needs; ``routes`` holds the endpoints
of each URA per payload code, so a lookup is one indexed query.

Consistency: a sync batch is staged in a connection-private TEMP table and applied in one
``BEGIN IMMEDIATE`` transaction together with the source's cursor. A crash before the commit
leaves the previous state. File databases run in WAL mode: readers (one connection per
thread) keep seeing the last committed state while a batch is being applied. An in-memory
store has one connection; readers and the apply step take turns under a lock.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from twiin.addressing._sqlite_batch import ALL_CODES, SqliteBatch, recompute_routes, uras_of_source
from twiin.addressing._sqlite_view import SqliteView
from twiin.addressing.endpoint import ResolvedEndpoint
from twiin.addressing.payload_types import ADMIN_DIRECTORY
from twiin.addressing.store import ApplyResult, Source, SourceKind, SourceState, TypeCounts
from twiin.errors import ConfigurationError

__all__ = ["SqliteDirectoryStore", "SqliteView"]

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sources(
    key TEXT PRIMARY KEY, url TEXT NOT NULL, kind TEXT NOT NULL, ura TEXT,
    since TEXT, last_full TEXT, history_supported INTEGER);
CREATE TABLE IF NOT EXISTS resources(
    source TEXT NOT NULL, rtype TEXT NOT NULL, rid TEXT NOT NULL, ts TEXT, links TEXT, body TEXT,
    PRIMARY KEY(source, rtype, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orgs(
    source TEXT NOT NULL, rid TEXT NOT NULL, ura TEXT, name TEXT, part_of TEXT, endpoints TEXT,
    active INTEGER, PRIMARY KEY(source, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS orgs_ura ON orgs(ura) WHERE ura IS NOT NULL;
CREATE INDEX IF NOT EXISTS orgs_part_of ON orgs(source, part_of) WHERE part_of IS NOT NULL;
CREATE TABLE IF NOT EXISTS services(
    source TEXT NOT NULL, rid TEXT NOT NULL, provided_by TEXT, name TEXT, endpoints TEXT,
    active INTEGER, PRIMARY KEY(source, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS services_by ON services(source, provided_by);
CREATE TABLE IF NOT EXISTS endpoints(
    source TEXT NOT NULL, rid TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(source, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoint_refs(
    source TEXT NOT NULL, endpoint_id TEXT NOT NULL, owner_type TEXT NOT NULL, owner_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS endpoint_refs_ep ON endpoint_refs(source, endpoint_id);
CREATE INDEX IF NOT EXISTS endpoint_refs_owner ON endpoint_refs(source, owner_type, owner_id);
CREATE TABLE IF NOT EXISTS routes(ura TEXT NOT NULL, code TEXT NOT NULL, position INTEGER, data TEXT);
CREATE INDEX IF NOT EXISTS routes_key ON routes(ura, code, position);
"""


class SqliteDirectoryStore:
    """:class:`~twiin.addressing.store.DirectoryStore` on SQLite; ``path=None`` keeps it in memory.

    Safe to share between threads: each reading thread gets its own connection (file
    databases), and one writer applies batches at a time.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = None if path is None else str(Path(path))
        self._lock = threading.RLock()
        self.batch_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._writer = self._connect()
        if self._path is not None:
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA synchronous=NORMAL")
        self._writer.executescript(_SCHEMA)
        found = self._writer.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if found is None:
            self._writer.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif found[0] != SCHEMA_VERSION:
            raise ConfigurationError("addressing.store", f"unsupported store schema version {found[0]}")

    @classmethod
    def in_memory(cls) -> SqliteDirectoryStore:
        """A store that lives as long as the object."""
        return cls(None)

    @property
    def path(self) -> str | None:
        """The database file, or ``None`` in memory."""
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path or ":memory:", isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA temp_store=FILE")
        return conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise ConfigurationError("addressing.store", "the directory store is closed")
        if self._path is None:
            with self._lock:
                yield self._writer
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        yield conn

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The writer connection, held exclusively (used by batches)."""
        if self._closed:
            raise ConfigurationError("addressing.store", "the directory store is closed")
        with self._lock:
            yield self._writer

    # --- reads --------------------------------------------------------------------------------

    def endpoints(self, ura: str, payload_code: str | None = None) -> list[ResolvedEndpoint]:
        """Endpoints of ``ura`` (with ``payload_code`` when given), in order."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT data FROM routes WHERE ura = ? AND code = ? ORDER BY position",
                (ura, payload_code or ALL_CODES),
            ).fetchall()
        return [ResolvedEndpoint.from_dict(json.loads(r[0])) for r in rows]

    def source_state(self, source: Source) -> SourceState | None:
        """The stored cursor and flags of ``source``."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT since, last_full, history_supported FROM sources WHERE key = ?", (source.key,)
            ).fetchone()
        if row is None:
            return None
        return SourceState(source, row[0], row[1], None if row[2] is None else bool(row[2]))

    def sources(self) -> list[SourceState]:
        """Every source held, ordered by key."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT url, kind, ura, since, last_full, history_supported FROM sources ORDER BY key"
            ).fetchall()
        return [
            SourceState(
                Source(r[0], SourceKind(r[1]), r[2]), r[3], r[4], None if r[5] is None else bool(r[5])
            )
            for r in rows
        ]

    def count(self, resource_type: str | None = None) -> int:
        """How many resources are stored (of ``resource_type``)."""
        with self._reading() as conn:
            if resource_type is None:
                return int(conn.execute("SELECT count(*) FROM resources").fetchone()[0])
            sql = "SELECT count(*) FROM resources WHERE rtype = ?"
            return int(conn.execute(sql, (resource_type,)).fetchone()[0])

    def admin_directories(self, root: Source) -> list[tuple[str, str]]:
        """``(URA, address)`` of the Administration Directory endpoints listed in ``root``."""
        found: set[tuple[str, str]] = set()
        with self._reading() as conn:
            view = SqliteView(conn)
            rows = conn.execute(
                "SELECT rid, ura, endpoints FROM orgs WHERE source = ? AND ura IS NOT NULL AND active",
                (root.key,),
            ).fetchall()
            for _rid, ura, refs in rows:
                for ref in json.loads(refs):
                    record = view.endpoint(root.key, ref)
                    if (
                        record
                        and record.usable
                        and any(ADMIN_DIRECTORY.matches(p.system, p.code) for p in record.payload_types)
                    ):
                        found.add((ura, record.address))
        return sorted(found)

    # --- writes -------------------------------------------------------------------------------

    def begin(self, source: Source, *, full: bool, resource_types: Sequence[str]) -> SqliteBatch:
        """Start staging a batch for ``source``."""
        return SqliteBatch(self, source, full=full, resource_types=tuple(resource_types))

    def remove_source(self, source: Source) -> ApplyResult:
        """Forget ``source`` and its contributions in one transaction."""
        with self.writing() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                affected = uras_of_source(conn, source.key)
                if source.ura:
                    affected.add(source.ura)
                counts: dict[str, TypeCounts] = {}
                for rtype, n in conn.execute(
                    "SELECT rtype, count(*) FROM resources WHERE source = ? GROUP BY rtype", (source.key,)
                ).fetchall():
                    counts[rtype] = TypeCounts(deleted=n)
                for table in ("resources", "orgs", "services", "endpoints", "endpoint_refs"):
                    conn.execute(f"DELETE FROM {table} WHERE source = ?", (source.key,))  # noqa: S608
                conn.execute("DELETE FROM sources WHERE key = ?", (source.key,))
                recompute_routes(conn, affected)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return ApplyResult(counts=counts, uras_changed=len(affected))

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for conn in self._readers:
                conn.close()
            self._writer.close()

    def __enter__(self) -> SqliteDirectoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
