"""Benchmark: a BgZ Notified Pull (29 queries) against a loopback sender with 50 ms latency per request.

Runs the two-party network of ``twiin.testing.notified_pull`` over real mTLS (token endpoint,
pull guard, consent, in-memory STU3 store). Baselines measured in the same run with raw httpx
(same client, same token): every query one after the other (the sum) and the slowest single
query. Then twiin's concurrent pull (sync threads and async tasks), and the throughput of 100
notifications pulled at the same time. Prints medians and ratios; never fails on timing.

    PYTHONPATH=src /work/venv/bin/python benchmarks/notified_pull.py
"""

from __future__ import annotations

import statistics
import sys
import time

import anyio

from twiin._http import create_async_client, create_client
from twiin.auth import JwtBearerAuth
from twiin.exchange.notified_pull import AsyncPuller, PullCore
from twiin.testing.notified_pull import PATIENT, RECEIVER, NotifiedPullNetwork
from twiin.usecases import bgz

LATENCY = 0.050
ROUNDS = 3
NOTIFICATIONS = 100
PARALLEL_PULLS = 12
"""Pulls in flight at once: 12 x 8 requests stay within the client's 100 pooled connections.
Starting all 100 at once only queues 800 requests on the pool until they hit its timeout."""


def raw_query(client, base: str, query: str) -> float:
    """Fetch one query with all its pages using plain httpx; returns seconds."""
    start = time.perf_counter()
    url: str | None = f"{base}/{query}"
    while url:
        response = client.get(url, headers={"Accept": "application/fhir+json"})
        response.raise_for_status()
        url = next(
            (link["url"] for link in response.json().get("link", []) if link["relation"] == "next"), None
        )
    return time.perf_counter() - start


def main() -> int:
    deadline = time.monotonic() + 110
    with NotifiedPullNetwork(latency=LATENCY, concurrency=29) as net:
        net.sender.notify(RECEIVER, PATIENT, bgz.QUERIES)
        notification = net.accepted[-1]
        base = net.sender_server.url("fhir")
        auth = JwtBearerAuth(net.token_url, net.receiver_creds, client_id=RECEIVER.value,
                             authorization_base=notification.task.authorization_base)  # fmt: skip

        sums, slowest = [], []
        with create_client(ssl_context=net.receiver_tls_client, auth=auth) as client:
            raw_query(client, base, bgz.QUERIES[0].query)  # token + connection warm-up
            for _ in range(ROUNDS):
                times = [raw_query(client, base, q.query) for q in bgz.QUERIES]
                sums.append(sum(times))
                slowest.append(max(times))
        sum_median, slowest_median = statistics.median(sums), statistics.median(slowest)

        net.puller.pull(notification)  # warm-up (token, connections)
        sync_walls = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            result = net.puller.pull(notification)
            sync_walls.append(time.perf_counter() - start)
            assert result.ok

        async def async_round() -> float:
            client = create_async_client(ssl_context=net.receiver_tls_client)
            async with AsyncPuller(net.pull_core, client=client) as puller:
                await puller.pull(notification)
                start = time.perf_counter()
                result = await puller.pull(notification)
                assert result.ok
                return time.perf_counter() - start

        async_walls = [anyio.run(async_round) for _ in range(ROUNDS)]
        sync_wall, async_wall = statistics.median(sync_walls), statistics.median(async_walls)

        print(
            f"BgZ Notified Pull, 29 queries (Condition: 2 pages), {LATENCY * 1000:.0f} ms added latency per request"
        )
        print(f"  baseline raw httpx, sequential (sum)      : {sum_median * 1000:8.1f} ms")
        print(f"  baseline slowest single query             : {slowest_median * 1000:8.1f} ms")
        print(f"  twiin Puller (threads, limit 29)          : {sync_wall * 1000:8.1f} ms"
              f"  = {sync_wall / slowest_median:4.2f}x slowest, {sync_wall / sum_median:4.2f}x sum")  # fmt: skip
        print(f"  twiin AsyncPuller (tasks, limit 29)       : {async_wall * 1000:8.1f} ms"
              f"  = {async_wall / slowest_median:4.2f}x slowest, {async_wall / sum_median:4.2f}x sum")  # fmt: skip
        sys.stdout.flush()

        if time.monotonic() > deadline - 60:
            print("  (skipping the 100-notification run: time budget)")
            return 0
        notifications = []
        for _ in range(NOTIFICATIONS):
            net.sender.notify(RECEIVER, PATIENT, bgz.QUERIES)
            notifications.append(net.accepted[-1])
        core = PullCore(net.resolver, net.pull_core.auth_for, concurrency=8)

        async def many() -> tuple[float, int]:
            client = create_async_client(ssl_context=net.receiver_tls_client)
            ok = 0
            async with AsyncPuller(core, client=client) as puller:
                start = time.perf_counter()
                results = [None] * len(notifications)

                limiter = anyio.CapacityLimiter(PARALLEL_PULLS)

                async def one(i: int) -> None:
                    async with limiter:
                        results[i] = await puller.pull(notifications[i])

                async with anyio.create_task_group() as group:
                    for i in range(len(notifications)):
                        group.start_soon(one, i)
                wall = time.perf_counter() - start
                ok = sum(1 for r in results if r is not None and r.ok)
            return wall, ok

        served_before = net.served
        wall, ok = anyio.run(many)
        requests = net.served - served_before
        print(f"{NOTIFICATIONS} notifications pulled concurrently (AsyncPuller, {PARALLEL_PULLS} pulls at a time, "
              "limit 8 per pull, one client):")  # fmt: skip
        print(f"  wall {wall:6.2f} s, {ok}/{NOTIFICATIONS} complete, {requests} FHIR requests served")
        print(f"  {NOTIFICATIONS / wall:6.1f} pulls/s, {requests / wall:7.1f} requests/s "
              f"(a sequential pull takes {sum_median:4.2f} s: {NOTIFICATIONS * sum_median / wall:5.1f}x speed-up)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
