"""Directory sync and resolve benchmark against a loopback mCSD directory.

A separate process serves a generated directory (default 100,000 resources: per care
provider one Organization, three Endpoints and one HealthcareService) over plain HTTP on
127.0.0.1, paged (``_count``/``_offset`` with ``next`` links), with type-level ``_history``.

Measured in this process, each against a baseline in the same run:

* full sync into a SQLite file (``DirectorySync``) vs a plain httpx loop fetching and
  JSON-decoding the same pages;
* peak RSS of this process (the sync streams pages, the directory is never held in memory);
* incremental sync of 1,000 changes (900 updates, 100 deletes) via ``_history?_since=`` vs a
  plain httpx loop over the same history pages;
* ``DirectoryCache.resolve()`` latency (p50/p99) vs one plain httpx GET of
  ``Organization?identifier=<ura>&_include=Organization:endpoint`` (the cheapest live lookup),
  and ``LiveDirectory`` (three queries, TTL off) for reference.

    PYTHONPATH=src python benchmarks/directory.py [--resources 100000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from twiin.addressing import (
    DirectoryCache,
    DirectorySync,
    EndpointPolicy,
    LiveDirectory,
    SqliteDirectoryStore,
    SyncOptions,
)
from twiin.addressing import payload_types as pt
from twiin.addressing.mcsd import MCSD_TYPES
from twiin.serving import Answer, IncomingRequest

TYPES = MCSD_TYPES
URA0 = 10_000_000
PROFILE = "http://nuts-foundation.github.io/nl-generic-functions-ig/StructureDefinition/"
BASE_TIME = "2025-01-01T00:00:00.000Z"
PER_ORG = {"Organization": 1, "Endpoint": 3, "HealthcareService": 1}


# --- the loopback directory (runs in its own process) ---------------------------------------


def _org(i: int, version: int = 1, stamp: str = BASE_TIME) -> dict[str, Any]:
    ura = str(URA0 + i)
    return {
        "resourceType": "Organization",
        "id": f"o{i}",
        "meta": {
            "versionId": str(version),
            "lastUpdated": stamp,
            "profile": [PROFILE + "nl-gf-organization"],
        },
        "identifier": [
            {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": ura},
            {"system": "https://bench.test/departments", "value": f"o{i}"},
        ],
        "active": True,
        "name": f"Zorgaanbieder {i} v{version}",
        "type": [
            {"coding": [{"system": "http://nictiz.nl/fhir/NamingSystem/organization-type", "code": "V4"}]}
        ],
        "telecom": [{"system": "phone", "value": f"+31 30 {i:07d}", "use": "work"}],
        "address": [{"line": [f"Straat {i}"], "city": "Utrecht", "postalCode": "3500 AA"}],
        "endpoint": [{"reference": f"Endpoint/e{i}a"}, {"reference": f"Endpoint/e{i}b"}],
    }


_PAYLOADS = {"a": pt.TWIIN_TA_NOTIFICATION, "b": pt.BGZ_SERVER, "c": pt.EOVERDRACHT_NOTIFICATION}


def _endpoint(i: int, kind: str, version: int = 1, stamp: str = BASE_TIME) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "id": f"e{i}{kind}",
        "meta": {"versionId": str(version), "lastUpdated": stamp, "profile": [PROFILE + "nl-gf-endpoint"]},
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "payloadType": [{"coding": [_PAYLOADS[kind].to_coding()]}],
        "payloadMimeType": ["application/fhir+json"],
        "managingOrganization": {
            "identifier": {"system": "http://fhir.nl/fhir/NamingSystem/kvk", "value": "51494752"}
        },
        "address": f"https://fhir{i}.bench.test/{kind}/v{version}",
        "name": f"endpoint {i}{kind}",
    }


def _service(i: int, version: int = 1, stamp: str = BASE_TIME) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": f"s{i}",
        "meta": {
            "versionId": str(version),
            "lastUpdated": stamp,
            "profile": [PROFILE + "nl-gf-healthcareservice"],
        },
        "active": True,
        "providedBy": {"reference": f"Organization/o{i}"},
        "name": f"Dienst {i}",
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "11429006"}]}],
        "endpoint": [{"reference": f"Endpoint/e{i}c"}],
    }


def _nth(rtype: str, n: int) -> dict[str, Any]:
    if rtype == "Organization":
        return _org(n)
    if rtype == "HealthcareService":
        return _service(n)
    return _endpoint(n // 3, "abc"[n % 3])


class Directory:
    """Serves the generated directory; pages of the full load are pre-rendered."""

    def __init__(self, orgs: int, page_size: int) -> None:
        self.orgs = orgs
        self.page_size = page_size
        self.base = ""
        self.changes: list[tuple[str, str, str, dict[str, Any] | None]] = []  # (stamp, type, id, resource)
        self.pages: dict[tuple[str, int], bytes] = {}

    def total(self, rtype: str) -> int:
        return self.orgs * PER_ORG.get(rtype, 0)

    def render_all(self) -> None:
        for rtype in TYPES:
            for offset in range(0, max(self.total(rtype), 1), self.page_size):
                self.pages[(rtype, offset)] = self._search_page(rtype, offset, self.page_size)

    def _bundle(self, btype: str, entries: list[dict[str, Any]], next_url: str | None) -> bytes:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": btype,
            "meta": {"lastUpdated": now},
            "entry": entries,
        }
        if next_url:
            bundle["link"] = [{"relation": "next", "url": next_url}]
        return json.dumps(bundle, separators=(",", ":")).encode()

    def _search_page(self, rtype: str, offset: int, count: int) -> bytes:
        total = self.total(rtype)
        entries = [
            {"fullUrl": f"{self.base}/{rtype}/x", "resource": _nth(rtype, n), "search": {"mode": "match"}}
            for n in range(offset, min(offset + count, total))
        ]
        nxt = (
            f"{self.base}/{rtype}?{urlencode({'_count': count, '_offset': offset + count})}"
            if offset + count < total
            else None
        )
        return self._bundle("searchset", entries, nxt)

    def mutate(self, n: int) -> None:
        rng = random.Random(7)
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        picks = rng.sample(range(self.orgs), n)
        for k, i in enumerate(picks):
            if k % 10 == 9:
                self.changes.append((stamp, "Endpoint", f"e{i}b", None))
            elif k % 3 == 0:
                self.changes.append((stamp, "Organization", f"o{i}", _org(i, 2, stamp)))
            else:
                self.changes.append((stamp, "Endpoint", f"e{i}a", _endpoint(i, "a", 2, stamp)))

    def history(self, rtype: str, since: str, offset: int, count: int, query: list[tuple[str, str]]) -> bytes:
        cutoff = dt.datetime.fromisoformat(since)
        matches = [
            c
            for c in reversed(self.changes)
            if c[1] == rtype and dt.datetime.fromisoformat(c[0].replace("Z", "+00:00")) > cutoff
        ]
        entries = []
        for stamp, t, rid, res in matches[offset : offset + count]:
            if res is None:
                entries.append(
                    {
                        "request": {"method": "DELETE", "url": f"{t}/{rid}"},
                        "response": {"status": "204", "lastModified": stamp},
                    }
                )
            else:
                entries.append({"resource": res, "request": {"method": "PUT", "url": f"{t}/{rid}"}})
        rest = [(k, v) for k, v in query if k != "_offset"] + [("_offset", str(offset + count))]
        nxt = f"{self.base}/{rtype}/_history?{urlencode(rest)}" if offset + count < len(matches) else None
        return self._bundle("history", entries, nxt)

    def lookup(self, rtype: str, query: dict[str, str]) -> bytes:
        entries: list[dict[str, Any]] = []
        if rtype == "Organization" and "identifier" in query:
            i = int(query["identifier"].rpartition("|")[2]) - URA0
            if 0 <= i < self.orgs:
                entries = [{"resource": _org(i), "search": {"mode": "match"}}]
                entries += [{"resource": _endpoint(i, k), "search": {"mode": "include"}} for k in "ab"]
        elif rtype == "HealthcareService" and "organization" in query:
            for ref in query["organization"].split(","):
                i = int(ref.rpartition("/o")[2])
                entries += [
                    {"resource": _service(i), "search": {"mode": "match"}},
                    {"resource": _endpoint(i, "c"), "search": {"mode": "include"}},
                ]
        return self._bundle("searchset", entries, None)

    def handle(self, request: IncomingRequest) -> Answer:
        parts = urlsplit(request.url)
        path = parts.path.removeprefix("/fhir/")
        query = parse_qsl(parts.query)
        params = dict(query)
        if request.method == "POST" and path == "control/mutate":
            self.mutate(int(params["n"]))
            return Answer(200, {}, b"{}")
        segments = path.split("/")
        count = int(params.get("_count", "100"))
        offset = int(params.get("_offset", "0"))
        if len(segments) == 2 and segments[1] == "_history":
            body = self.history(segments[0], params["_since"], offset, count, query)
        elif any(k in params for k in ("identifier", "organization", "partof", "partof.identifier")):
            body = self.lookup(segments[0], params)
        elif count == self.page_size and (segments[0], offset) in self.pages:
            body = self.pages[(segments[0], offset)]
        else:
            body = self._search_page(segments[0], offset, count)
        return Answer(200, {"content-type": "application/fhir+json"}, body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections
    directory: Directory

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = IncomingRequest(
            self.command, f"http://127.0.0.1{self.path}", dict(self.headers.items()), body
        )
        answer = self.directory.handle(request)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = _dispatch


def _serve(orgs: int, page_size: int, ready: Any, lifetime: float) -> None:
    directory = Directory(orgs, page_size)
    _Handler.directory = directory
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    directory.base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    directory.render_all()
    threading.Timer(lifetime, server.shutdown).start()  # bounds our life if the parent cannot stop us
    ready.send(directory.base)
    server.serve_forever(poll_interval=0.2)


# --- measurements ---------------------------------------------------------------------------


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def httpx_full_load(base: str, page_size: int) -> int:
    seen = 0
    with httpx.Client(timeout=60) as client:
        for rtype in TYPES:
            url: str | None = f"{base}/{rtype}?_count={page_size}"
            while url:
                bundle = json.loads(client.get(url).content)
                seen += len(bundle.get("entry", []))
                url = next(
                    (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
                )
    return seen


def httpx_history(base: str, since: str, page_size: int) -> int:
    seen = 0
    with httpx.Client(timeout=60) as client:
        for rtype in TYPES:
            url: str | None = f"{base}/{rtype}/_history?{urlencode({'_since': since, '_count': page_size})}"
            while url:
                bundle = json.loads(client.get(url).content)
                seen += len(bundle.get("entry", []))
                url = next(
                    (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
                )
    return seen


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    return statistics.median(ordered) / 1000, ordered[int(len(ordered) * 0.99) - 1] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=100_000, help="directory size (multiple of 5)")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--resolves", type=int, default=20_000)
    args = parser.parse_args()
    orgs = args.resources // 5
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(orgs, args.page_size, child, 600.0), daemon=True)
    began = time.monotonic()
    server.start()
    try:
        if not parent.poll(120):
            sys.exit("directory server did not start")
        base = parent.recv()
        print(f"loopback directory: {orgs * 5:,} resources ({orgs:,} providers), page size {args.page_size}, "
              f"ready in {time.monotonic() - began:.1f}s")  # fmt: skip
        rss_start = rss_mb()
        policy = EndpointPolicy.for_tests()

        t0 = time.perf_counter()
        n_base = httpx_full_load(base, args.page_size)
        t_base = time.perf_counter() - t0
        rss_base = rss_mb()

        tmp = tempfile.mkdtemp(prefix="twiin-bench-")
        db = Path(tmp) / "directory.sqlite"
        store = SqliteDirectoryStore(db)
        job = DirectorySync(
            store, query_directories=[base], options=SyncOptions(page_size=args.page_size, policy=policy)
        )
        t0 = time.perf_counter()
        report = job.run()
        t_full = time.perf_counter() - t0
        assert report.ok, report.errors
        rss_sync = rss_mb()
        print("\nfull load")
        print(f"  plain httpx paging loop : {t_base:7.2f} s  {n_base / t_base:9,.0f} resources/s")
        print(f"  twiin DirectorySync     : {t_full:7.2f} s  {report.received / t_full:9,.0f} resources/s"
              f"  ({report.created:,} stored)  ratio {t_full / t_base:.2f}x")  # fmt: skip
        print(f"  peak RSS                : {rss_start:.0f} MB at start, {rss_base:.0f} MB after httpx loop, "
              f"{rss_sync:.0f} MB after full sync (db file {db.stat().st_size / 2**20:.0f} MB)")  # fmt: skip

        state = store.sources()[0]
        with httpx.Client() as control:
            control.post(f"{base}/control/mutate?n=1000")
        t0 = time.perf_counter()
        n_hist = httpx_history(base, state.since or "", args.page_size)
        t_hist_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        incr = job.run()
        t_incr = time.perf_counter() - t0
        counts = incr.counts()
        print("\nincremental sync (1,000 changes: 900 updates, 100 deletes)")
        print(f"  plain httpx _history loop: {t_hist_base * 1000:7.1f} ms  ({n_hist} entries)")
        print(f"  twiin DirectorySync      : {t_incr * 1000:7.1f} ms  mode={incr.sources[0].mode.value} "
              f"updated={incr.updated} deleted={incr.deleted}  ratio {t_incr / t_hist_base:.2f}x")  # fmt: skip
        assert incr.updated + incr.deleted == 1000, {k: v.as_dict() for k, v in counts.items()}

        cache = DirectoryCache(store, policy=policy)
        rng = random.Random(1)
        uras = [str(URA0 + rng.randrange(orgs)) for _ in range(args.resolves)]
        for ura in uras[:500]:
            cache.resolve(ura, pt.TWIIN_TA_NOTIFICATION)
        samples = []
        for ura in uras:
            t = time.perf_counter_ns()
            cache.resolve(ura, pt.TWIIN_TA_NOTIFICATION)
            samples.append(time.perf_counter_ns() - t)
        c50, c99 = percentiles(samples)
        http_samples = []
        with httpx.Client() as client:
            for ura in uras[:500]:
                t = time.perf_counter_ns()
                json.loads(
                    client.get(
                        f"{base}/Organization",
                        params={
                            "identifier": f"http://fhir.nl/fhir/NamingSystem/ura|{ura}",
                            "_include": "Organization:endpoint",
                        },
                    ).content
                )
                http_samples.append(time.perf_counter_ns() - t)
        h50, h99 = percentiles(http_samples)
        live_samples = []
        with LiveDirectory(base, policy=policy, ttl=0) as live:
            for ura in uras[:300]:
                t = time.perf_counter_ns()
                live.resolve(ura, pt.TWIIN_TA_NOTIFICATION)
                live_samples.append(time.perf_counter_ns() - t)
        l50, l99 = percentiles(live_samples)
        print(f"\nresolve() latency ({len(samples):,} calls from the cache)")
        print(f"  plain httpx GET Organization?identifier&_include : p50 {h50:8.1f} us  p99 {h99:8.1f} us")
        print(f"  twiin LiveDirectory (3 queries, no TTL cache)     : p50 {l50:8.1f} us  p99 {l99:8.1f} us")
        print(f"  twiin DirectoryCache (SQLite)                     : p50 {c50:8.1f} us  p99 {c99:8.1f} us"
              f"  ratio to httpx {c50 / h50:.3f}x")  # fmt: skip
        print(f"\ntotal benchmark time {time.monotonic() - began:.1f}s; peak RSS {rss_mb():.0f} MB")
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.rmdir(tmp)
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
