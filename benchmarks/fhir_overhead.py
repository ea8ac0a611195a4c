"""Overhead of twiin's FHIR client against raw httpx and fhirpy, on one loopback server.

Run: ``PYTHONPATH=src /work/venv/bin/python benchmarks/fhir_overhead.py [--quick]``

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 serves canned R4 JSON (a Task for reads, a
20-entry searchset for searches). Per round, every contender runs the same batch of sequential
reads and searches; rounds interleave the contenders so drift hits all of them alike. Printed:
median milliseconds per request and the ratio to (a) raw httpx + ``json.loads`` of the same
mode (sync or async). Then parse / serialise time and peak memory for a 500-entry Bundle.
Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from fhirpy import AsyncFHIRClient, SyncFHIRClient

from twiin.config import RetryPolicy
from twiin.fhir import AsyncFhirClient, FhirClient, FhirVersion, parse_resource, serialize

URA = "http://fhir.nl/fhir/NamingSystem/ura"


def task(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": f"task-{i}",
        "meta": {"versionId": "3", "lastUpdated": "2024-05-01T10:00:00.123+02:00"},
        "identifier": [
            {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:00000000-0000-0000-0000-{i:012d}"}
        ],
        "groupIdentifier": {
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:11111111-2222-3333-4444-555555555555",
        },
        "status": "requested",
        "intent": "order",
        "code": {
            "coding": [{"system": "http://fhir.nl/fhir/NamingSystem/TaskCode", "code": "pull-notification"}]
        },
        "for": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/pseudo-bsn", "value": f"p-{i}"}},
        "authoredOn": "2024-05-01T10:00:00+02:00",
        "requester": {"identifier": {"system": URA, "value": "12345678"}},
        "owner": {"identifier": {"system": URA, "value": "87654321"}},
        "restriction": {"period": {"end": "2024-05-08T10:00:00+02:00"}},
        "input": [
            {
                "type": {
                    "coding": [
                        {"system": "http://fhir.nl/fhir/NamingSystem/TaskParameter", "code": "read-available"}
                    ]
                },
                "valueString": f"/Observation?code=http://loinc.org|85354-9&_include=Observation:related&x={i}",
            }
            for _ in range(3)
        ],
    }


def observation(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{i}",
        "meta": {"versionId": "1", "lastUpdated": "2024-05-01T10:00:00.123456+02:00"},
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-05-01T09:30:00+02:00",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {
                    "value": value,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            }
            for code, value in (("8480-6", 120.50), ("8462-4", 80.25))
        ],
    }


def bundle(n: int, kind: str = "searchset") -> dict[str, Any]:
    entries = [
        {
            "fullUrl": f"http://127.0.0.1/fhir/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in ((task(i) if i % 2 else observation(i)) for i in range(n))
    ]
    return {"resourceType": "Bundle", "type": kind, "total": n, "entry": entries}


READ_BODY = json.dumps(task(1)).encode()
SEARCH_BODY = json.dumps(
    {**bundle(20), "entry": [{**e, "resource": task(i)} for i, e in enumerate(bundle(20)["entry"])]}
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one response = headers + body without a delayed-ACK stall

    def do_GET(self) -> None:
        body = SEARCH_BODY if "?" in self.path else READ_BODY
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", 'W/"3"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def start_server() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/fhir"


# --- contenders -------------------------------------------------------------------------

Op = Callable[[], Any]


def sync_contenders(base: str) -> tuple[dict[str, tuple[Op, Op]], Callable[[], None]]:
    plain = httpx.Client()
    raw = FhirClient(base, FhirVersion.R4, raw=True, retry=RetryPolicy.disabled())
    typed = FhirClient(base, FhirVersion.R4, retry=RetryPolicy.disabled())
    fp = SyncFHIRClient(base)
    search_params = {"status": "requested", "_count": "20"}

    contenders = {
        "a httpx+json": (
            lambda: json.loads(plain.get(f"{base}/Task/task-1").content),
            lambda: json.loads(plain.get(f"{base}/Task", params=search_params).content),
        ),
        "b twiin raw": (
            lambda: raw.read("Task", "task-1").json,
            lambda: raw.search("Task", search_params).json,
        ),
        "c twiin typed": (
            lambda: typed.read("Task", "task-1").resource,
            lambda: typed.search("Task", search_params).resource,
        ),
        "d fhirpy": (
            lambda: fp.get("Task", "task-1"),
            lambda: fp.resources("Task").search(status="requested").limit(20).fetch(),
        ),
    }

    def close() -> None:
        plain.close()
        raw.close()
        typed.close()

    return contenders, close


def async_contenders(
    base: str,
) -> tuple[dict[str, tuple[Callable[[], Any], Callable[[], Any]]], Callable[[], Any]]:
    plain = httpx.AsyncClient()
    raw = AsyncFhirClient(base, FhirVersion.R4, raw=True, retry=RetryPolicy.disabled())
    typed = AsyncFhirClient(base, FhirVersion.R4, retry=RetryPolicy.disabled())
    fp = AsyncFHIRClient(base)
    search_params = {"status": "requested", "_count": "20"}

    async def a_read() -> Any:
        return json.loads((await plain.get(f"{base}/Task/task-1")).content)

    async def a_search() -> Any:
        return json.loads((await plain.get(f"{base}/Task", params=search_params)).content)

    async def b_read() -> Any:
        return (await raw.read("Task", "task-1")).json

    async def b_search() -> Any:
        return (await raw.search("Task", search_params)).json

    async def c_read() -> Any:
        return (await typed.read("Task", "task-1")).resource

    async def c_search() -> Any:
        return (await typed.search("Task", search_params)).resource

    async def d_read() -> Any:
        return await fp.get("Task", "task-1")

    async def d_search() -> Any:
        return await fp.resources("Task").search(status="requested").limit(20).fetch()

    contenders = {
        "a httpx+json": (a_read, a_search),
        "b twiin raw": (b_read, b_search),
        "c twiin typed": (c_read, c_search),
        "d fhirpy": (d_read, d_search),
    }

    async def close() -> None:
        await plain.aclose()
        await raw.close()
        await typed.close()

    return contenders, close


# --- measurement ------------------------------------------------------------------------


def run_sync(base: str, rounds: int, reads: int, searches: int) -> dict[tuple[str, str], list[float]]:
    contenders, close = sync_contenders(base)
    samples: dict[tuple[str, str], list[float]] = {}
    for read, search in contenders.values():  # warm-up (imports, lazy model loading, connections)
        read()
        search()
    for _ in range(rounds):
        for name, (read, search) in contenders.items():
            for label, op, n in (("read", read, reads), ("search", search, searches)):
                start = time.perf_counter()
                for _ in range(n):
                    op()
                samples.setdefault((name, label), []).append((time.perf_counter() - start) / n * 1000)
    close()
    return samples


async def run_async(base: str, rounds: int, reads: int, searches: int) -> dict[tuple[str, str], list[float]]:
    contenders, close = async_contenders(base)
    samples: dict[tuple[str, str], list[float]] = {}
    for read, search in contenders.values():
        await read()
        await search()
    for _ in range(rounds):
        for name, (read, search) in contenders.items():
            for label, op, n in (("read", read, reads), ("search", search, searches)):
                start = time.perf_counter()
                for _ in range(n):
                    await op()
                samples.setdefault((name, label), []).append((time.perf_counter() - start) / n * 1000)
    await close()
    return samples


def report(title: str, samples: dict[tuple[str, str], list[float]]) -> None:
    print(f"\n{title}: median ms per request (ratio to a)")
    print(f"  {'contender':<16}{'read':>10}{'ratio':>8}{'search':>10}{'ratio':>8}")
    base_read = statistics.median(samples[("a httpx+json", "read")])
    base_search = statistics.median(samples[("a httpx+json", "search")])
    for name in sorted({k[0] for k in samples}):
        r = statistics.median(samples[(name, "read")])
        s = statistics.median(samples[(name, "search")])
        print(f"  {name:<16}{r:>10.3f}{r / base_read:>8.2f}{s:>10.3f}{s / base_search:>8.2f}")


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def peak_mib(fn: Callable[[], Any]) -> tuple[float, float]:
    gc.collect()
    tracemalloc.start()
    kept = fn()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return current / 2**20, peak / 2**20


def bundle_costs(repeat: int) -> None:
    data = bundle(500)
    raw = json.dumps(data).encode()
    model = parse_resource(raw, FhirVersion.R4)  # warm-up: lazy class loading
    print(f"\n500-entry Bundle (250 Task + 250 Observation, {len(raw) / 1024:.0f} KiB), median of {repeat}")
    loads = timed(lambda: json.loads(raw), repeat)
    parse = timed(lambda: parse_resource(raw, FhirVersion.R4), repeat)
    dump_model = timed(lambda: serialize(model), repeat)
    dump_dict = timed(lambda: serialize(data), repeat)
    print(f"  json.loads (baseline)            {loads:8.1f} ms")
    print(f"  parse_resource (typed, R4B)      {parse:8.1f} ms  ({parse / loads:.1f}x json.loads)")
    print(f"  serialize(model) -> JSON bytes   {dump_model:8.1f} ms")
    print(f"  serialize(dict)  -> JSON bytes   {dump_dict:8.1f} ms  (raw mode path)")
    kept_dict, peak_dict = peak_mib(lambda: json.loads(raw))
    kept_model, peak_model = peak_mib(lambda: parse_resource(raw, FhirVersion.R4))
    print(f"  memory dict : retained {kept_dict:5.1f} MiB, peak {peak_dict:5.1f} MiB")
    print(f"  memory model: retained {kept_model:5.1f} MiB, peak {peak_model:5.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (smoke run)")
    args = parser.parse_args()
    rounds, reads, searches, repeat = (3, 20, 5, 3) if args.quick else (9, 60, 15, 7)
    server, base = start_server()
    started = time.perf_counter()
    print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}; server {base}")
    print(f"{rounds} interleaved rounds x ({reads} reads + {searches} searches) per contender")
    print("search = one 20-entry searchset page; fhirpy sync uses requests (no pooled session)")
    report("sync", run_sync(base, rounds, reads, searches))
    report("async", asyncio.run(run_async(base, rounds, reads, searches)))
    bundle_costs(repeat)
    server.shutdown()
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
