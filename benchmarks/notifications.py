"""TA Notifications throughput: receiver (parse + validate + dedupe), builder, and validate().

Run: PYTHONPATH=src /work/venv/bin/python benchmarks/notifications.py
Prints medians over several rounds and the ratio to plain ``json.loads`` of the same bytes,
measured in the same run. Bounded to well under two minutes.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.validation import fixtures as fx

from twiin import naming
from twiin.exchange.notifications import (
    ReceiverCore,
    SubscriptionServerCore,
    build_subscription,
)
from twiin.serving import IncomingRequest
from twiin.validation import validate

ROUNDS = 7
N = 1000
NOW = datetime(2026, 7, 16, 9, 15, tzinfo=UTC)
MATCH = {"owner:identifier": "https://f.example.org/hcs|w"}


def median_seconds(fn: Callable[[], Any], rounds: int = ROUNDS) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def holder(content: str) -> tuple[SubscriptionServerCore, str]:
    core = SubscriptionServerCore("https://holder.example.org/fhir")
    resource = build_subscription(
        topic=fx.TOPIC,
        endpoint="https://r.example.org/hook",
        filters=["owner:identifier=https://f.example.org/hcs|w"],
        content=content,  # type: ignore[arg-type]
    )
    record = core.subscribe(resource, NOW)
    for d in core.take_pending():
        core.delivered(d, True, NOW)
    return core, record.url


def bodies(content: str, payload_task: dict[str, Any]) -> tuple[list[bytes], str]:
    core, url = holder(content)
    for _ in range(N):
        core.publish(fx.TOPIC, focus="Task/t1", resource=payload_task, filters=MATCH, now=NOW)
    return [d.body for d in core.take_pending()], url


def bench_receiver(content: str, task: dict[str, Any]) -> None:
    raw, url = bodies(content, task)
    requests = [
        IncomingRequest("POST", "https://r.example.org/hook", {"content-type": naming.FHIR_JSON}, b)
        for b in raw
    ]

    def receive() -> None:
        core = ReceiverCore()
        core.expect(url)
        for request in requests:
            reception = core.receive(request, NOW)
            for event in reception.fresh:
                core.processed(url, event.number)
        # the same bodies again: every one must now be a duplicate
        assert all(core.receive(r, NOW).duplicates for r in requests[:10])

    def baseline() -> None:
        for body in raw:
            json.loads(body)

    t = median_seconds(receive)
    b = median_seconds(baseline)
    size = statistics.median(len(x) for x in raw)
    print(
        f"receiver {content:13s} {N / t:10.0f} notifications/s  ({t / N * 1e6:7.1f} us each, {size:.0f} B)"
        f"  json.loads {N / b:10.0f}/s  ratio {t / b:6.1f}x"
    )


def bench_builder(content: str, task: dict[str, Any]) -> None:
    core, _ = holder(content)

    def build() -> None:
        for _ in range(N):
            core.publish(fx.TOPIC, focus="Task/t1", resource=task, filters=MATCH, now=NOW)
        core.take_pending()
        core.records[next(iter(core.records))].events.clear()

    raw, _ = bodies(content, task)

    def baseline() -> None:
        for body in raw:
            json.loads(body)

    t = median_seconds(build)
    b = median_seconds(baseline)
    print(
        f"builder  {content:13s} {N / t:10.0f} notifications/s  ({t / N * 1e6:7.1f} us each)"
        f"  ratio to json.loads {t / b:6.1f}x"
    )


def bench_validate(name: str, resource: dict[str, Any]) -> None:
    raw = json.dumps(resource).encode()
    reps = 2000
    issues = validate(resource)
    assert not [i for i in issues if i.severity == "error"], issues

    def run() -> None:
        for _ in range(reps):
            validate(resource)

    def baseline() -> None:
        for _ in range(reps):
            json.loads(raw)

    t = median_seconds(run)
    b = median_seconds(baseline)
    print(
        f"validate {name:28s} {t / reps * 1e6:7.1f} us/resource  json.loads {b / reps * 1e6:6.1f} us"
        f"  ratio {t / b:5.1f}x  ({len(raw)} B)"
    )


def main() -> None:
    started = time.perf_counter()
    print(f"python {sys.version.split()[0]}, N={N} notifications per round, median of {ROUNDS} rounds")
    task = fx.ct_in_progress()
    for content in ("empty", "id-only", "full-resource"):
        bench_receiver(content, task)
    for content in ("empty", "id-only", "full-resource"):
        bench_builder(content, task)
    for name, resource in (
        ("Coordination Task", fx.ct_in_progress()),
        ("ACRT", fx.acrt()),
        ("ServiceRequest", fx.service_request()),
        ("Workflow Subscription", fx.workflow_subscription()),
        ("notification (id-only)", fx.event_id_only()),
        ("notification (full-resource)", fx.event_full_resource()),
    ):
        bench_validate(name, resource)
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
