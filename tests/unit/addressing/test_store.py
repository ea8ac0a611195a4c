"""The SQLite store: one transaction per batch, crash safety, concurrent readers (WAL)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from twiin.addressing import DirectoryCache, DirectorySync, SqliteDirectoryStore, SyncOptions
from twiin.addressing import payload_types as pt
from twiin.addressing._sqlite_view import SqliteView
from twiin.addressing.routing import build_routes
from twiin.addressing.store import Source, SourceKind
from twiin.errors import AddressingError, ConfigurationError

from . import mcsd_fixtures as fx
from .fakes import Network

REPO = Path(__file__).resolve().parents[3]


def assert_consistent(path_or_store: str | SqliteDirectoryStore) -> None:
    """The derived routes equal a fresh walk of the stored records, for every URA."""
    if isinstance(path_or_store, SqliteDirectoryStore):
        with path_or_store.writing() as conn:
            _check(conn)
    else:
        conn = sqlite3.connect(path_or_store)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            _check(conn)
        finally:
            conn.close()


def _check(conn: sqlite3.Connection) -> None:
    view = SqliteView(conn)
    uras = {r[0] for r in conn.execute("SELECT ura FROM orgs WHERE ura IS NOT NULL")}
    routed = {r[0] for r in conn.execute("SELECT DISTINCT ura FROM routes")}
    assert routed <= uras
    for ura in uras:
        stored = [
            json.loads(r[0])
            for r in conn.execute(
                "SELECT data FROM routes WHERE ura = ? AND code = '*' ORDER BY position", (ura,)
            )
        ]
        assert stored == [e.to_dict() for e in build_routes(ura, view)], ura
    dangling = conn.execute(
        "SELECT count(*) FROM orgs o WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.source = o.source AND r.rtype = 'Organization' AND r.rid = o.rid)"
    ).fetchone()[0]
    assert dangling == 0


def change_network(net: Network) -> None:
    """Changes in two provider directories, used by the crash tests."""
    linde, oost = net.directories[1], net.directories[2]
    linde.put(fx.endpoint("notify", "https://np2.linde.test/fhir", pt.TWIIN_TA_NOTIFICATION))
    oost.put(fx.endpoint("cardio-notify", "https://cardio2.oost.test/fhir", pt.TWIIN_TA_NOTIFICATION))
    oost.delete("HealthcareService", "uro")


def addresses(store: SqliteDirectoryStore, ura: str) -> list[str]:
    return [e.address for e in DirectoryCache(store).resolve(ura, pt.TWIIN_TA_NOTIFICATION)]


def test_crash_between_batches_keeps_committed_batches_and_next_sync_completes() -> None:
    net = fx.network()
    with SqliteDirectoryStore.in_memory() as store:
        job = DirectorySync(store, root=fx.LRZA, fetcher=net)
        job.run()
        change_network(net)
        net.fail_on.add(fx.OOST)
        with pytest.raises(RuntimeError, match="simulated crash"):
            job.run()
        assert_consistent(store)
        assert addresses(store, fx.URA_LINDE) == ["https://np2.linde.test/fhir"]  # Linde's batch committed
        assert "https://cardio.oost.test/fhir" in addresses(store, fx.URA_OOST)  # Oost's did not start
        assert DirectoryCache(store).resolve(fx.URA_OOST, pt.BGZ_SERVER)
        net.fail_on.clear()
        report = job.run()
        assert report.ok
        assert "https://cardio2.oost.test/fhir" in addresses(store, fx.URA_OOST)
        assert_consistent(store)


def test_crash_inside_a_batch_leaves_the_previous_state() -> None:
    net = fx.network()
    with SqliteDirectoryStore.in_memory() as store:
        job = DirectorySync(store, root=fx.LRZA, fetcher=net, options=SyncOptions(page_size=1))
        job.run()
        key = Source(fx.OOST, SourceKind.PROVIDER, fx.URA_OOST)
        before = store.source_state(key)
        change_network(net)
        oost = net.directories[2]
        calls = {"n": 0}
        real_get = oost.get

        def flaky(url: str) -> object:
            calls["n"] += 1
            if calls["n"] == 3:  # after two staged pages of Oost's history
                raise KeyboardInterrupt
            return real_get(url)

        oost.get = flaky  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            job.run()
        assert store.source_state(key) == before  # cursor unchanged
        assert "https://cardio.oost.test/fhir" in addresses(store, fx.URA_OOST)
        assert DirectoryCache(store).resolve(fx.URA_OOST, pt.BGZ_SERVER)  # the delete was not applied
        assert_consistent(store)
        oost.get = real_get  # type: ignore[method-assign]
        assert job.run().ok
        assert "https://cardio2.oost.test/fhir" in addresses(store, fx.URA_OOST)
        assert_consistent(store)


KILL_SCRIPT = r"""
import os, sys
sys.path[:0] = [{src!r}, {repo!r}]
from tests.unit.addressing import mcsd_fixtures as fx
from tests.unit.addressing.test_store import change_network
from twiin.addressing import DirectorySync, SqliteDirectoryStore
import twiin.addressing._sqlite_batch as batch

store = SqliteDirectoryStore({db!r})
net = fx.network()
job = DirectorySync(store, root=fx.LRZA, fetcher=net)
job.run()
change_network(net)
real = batch.recompute_routes
def dying(conn, uras):
    uras = set(uras)
    if fx.URA_OOST in uras:
        conn.execute("DELETE FROM routes")          # half-done work inside the open transaction
        conn.execute("DELETE FROM orgs")
        os._exit(17)                                # hard kill: no rollback, no cleanup
    real(conn, uras)
batch.recompute_routes = dying
job.run()
"""


def test_hard_kill_inside_the_apply_transaction_leaves_the_previous_state(tmp_path: Path) -> None:
    db = tmp_path / "directory.sqlite"
    script = KILL_SCRIPT.format(src=str(REPO / "src"), repo=str(REPO), db=str(db))
    proc = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    assert_consistent(str(db))
    with SqliteDirectoryStore(db) as store:
        assert addresses(store, fx.URA_LINDE) == ["https://np2.linde.test/fhir"]  # committed before the kill
        assert "https://cardio.oost.test/fhir" in addresses(store, fx.URA_OOST)  # rolled back by WAL recovery
        net = fx.network()  # the same directories, rebuilt deterministically
        DirectorySync(store, root=fx.LRZA, fetcher=net).run()  # the state the killed run had seen
        change_network(net)
        report = DirectorySync(store, root=fx.LRZA, fetcher=net).run()
        assert report.ok
        assert "https://cardio2.oost.test/fhir" in addresses(store, fx.URA_OOST)
        assert_consistent(store)


def test_readers_see_the_previous_state_while_a_sync_runs(tmp_path: Path) -> None:
    net = fx.network()
    with SqliteDirectoryStore(tmp_path / "d.sqlite") as store:
        job = DirectorySync(store, root=fx.LRZA, fetcher=net, options=SyncOptions(page_size=1))
        job.run()
        change_network(net)
        oost = net.directories[2]
        reached, release = threading.Event(), threading.Event()
        real_get = oost.get

        def slow(url: str) -> object:
            if "HealthcareService" in url:
                reached.set()
                assert release.wait(10)
            return real_get(url)

        oost.get = slow  # type: ignore[method-assign]
        outcome: list[object] = []
        worker = threading.Thread(target=lambda: outcome.append(job.run()))
        worker.start()
        try:
            assert reached.wait(10)
            seen: list[list[str]] = []
            reader = threading.Thread(target=lambda: seen.append(addresses(store, fx.URA_OOST)))
            reader.start()
            reader.join(5)
            assert seen
            assert "https://cardio.oost.test/fhir" in seen[0]
            assert addresses(store, fx.URA_LINDE) == ["https://np2.linde.test/fhir"]
        finally:
            release.set()
            worker.join(20)
        assert outcome
        assert outcome[0].ok
        assert "https://cardio2.oost.test/fhir" in addresses(store, fx.URA_OOST)


def test_open_write_transaction_does_not_block_or_leak_to_readers(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    with SqliteDirectoryStore(path) as store:
        DirectorySync(store, root=fx.LRZA, fetcher=fx.network()).run()
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM routes")
        try:
            assert addresses(store, fx.URA_LINDE) == ["https://np.linde.test/fhir"]
        finally:
            writer.execute("ROLLBACK")
            writer.close()


def test_one_batch_at_a_time_and_discard_leaves_nothing() -> None:
    with SqliteDirectoryStore.in_memory() as store:
        source = Source("https://qd.test/fhir")
        batch = store.begin(source, full=True, resource_types=["Organization"])
        with pytest.raises(AddressingError, match="another sync batch"):
            store.begin(source, full=True, resource_types=["Organization"])
        batch.stage("Organization", "o1", None, fx.organization("o1", "Org", ura="12345678"))
        batch.discard()
        assert store.count() == 0
        assert store.source_state(source) is None
        with pytest.raises(AddressingError, match="already committed or discarded"):
            batch.stage("Organization", "o2", None, fx.organization("o2", "Org", ura="12345678"))
        store.begin(source, full=True, resource_types=["Organization"]).discard()


def test_stale_versions_do_not_overwrite_newer_ones() -> None:
    with SqliteDirectoryStore.in_memory() as store:
        source = Source("https://qd.test/fhir")
        newer = fx.organization("o1", "New name", ura="12345678")
        batch = store.begin(source, full=False, resource_types=["Organization"])
        batch.stage("Organization", "o1", "2025-01-02T00:00:00.000000+00:00", newer)
        batch.commit(since="s1", history_supported=True, now="2025-01-02T00:00:00+00:00")
        batch = store.begin(source, full=False, resource_types=["Organization"])
        batch.stage(
            "Organization",
            "o1",
            "2025-01-01T00:00:00.000000+00:00",
            fx.organization("o1", "Old name", ura="12345678"),
        )
        result = batch.commit(since="s2", history_supported=True, now="2025-01-03T00:00:00+00:00")
        assert result.counts["Organization"].unchanged == 1
        with store.writing() as conn:
            assert conn.execute("SELECT name FROM orgs").fetchone()[0] == "New name"


def test_closed_store_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    store = SqliteDirectoryStore(path)
    store.close()
    with pytest.raises(ConfigurationError):
        store.endpoints("12345678")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigurationError, match="schema"):
        SqliteDirectoryStore(path)


def test_store_file_is_in_wal_mode(tmp_path: Path) -> None:
    with SqliteDirectoryStore(tmp_path / "d.sqlite") as store:
        with store.writing() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.path is not None
        assert os.path.exists(store.path)


def test_routing_lookups_use_their_indexes() -> None:
    """Child and service lookups must not scan a whole source (a full sync would turn quadratic)."""
    statements: list[str] = []
    with SqliteDirectoryStore.in_memory() as store:
        with store.writing() as conn:
            conn.set_trace_callback(statements.append)
        DirectorySync(store, root=fx.LRZA, fetcher=fx.network()).run()
        with store.writing() as conn:
            conn.set_trace_callback(None)
            lookups = sorted({s for s in statements if "part_of = " in s or "provided_by = " in s})
            assert any("FROM orgs" in s for s in lookups)
            assert any("FROM services" in s for s in lookups)
            for sql in lookups:
                plan = " ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
                assert "INDEX" in plan, (sql, plan)
                assert "PRIMARY KEY" not in plan, (sql, plan)
