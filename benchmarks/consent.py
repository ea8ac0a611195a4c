"""Consent benchmark: Mitz closed question build + parse (microseconds), and 200 concurrent closed
questions against the loopback fake Mitz over mTLS, compared with a bare httpx POST of the same bytes.

Run: PYTHONPATH=src /work/venv/bin/python benchmarks/consent.py
Prints medians and ratios measured in this run; never fails on timing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import anyio
from lxml import etree

from twiin._http import client_ssl_context, server_ssl_context
from twiin._http.compat import httpx
from twiin.consent import (
    AsyncMitzClient,
    ConsentQuestion,
    DataCategory,
    build_closed_question,
    parse_closed_answer,
)
from twiin.consent.mitz import closed_question_headers
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura, UziNumber
from twiin.serving import IncomingRequest
from twiin.testing.fake_mitz import FakeConsent, FakeMitz
from twiin.testing.pki import TestPKI
from twiin.testing.server import serve

PATIENT = "900186021"
CONCURRENCY = 200
ROUNDS = 5


def question(*categories: DataCategory) -> ConsentQuestion:
    return ConsentQuestion(
        patient=Bsn(PATIENT),
        holder_ura=Ura("659"),
        holder_type=ProviderType("Z3"),
        requester_ura=Ura("666"),
        requester_type=ProviderType("Z3"),
        professional=UziNumber("000095254"),
        role=RoleCode("01.015"),
        categories=categories,
    )


def per_call_us(fn: Callable[[], object], repeat: int = 2000, rounds: int = 7) -> float:
    """Median over ``rounds`` of the mean time per call, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(samples)


def micro() -> None:
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)])
    url = "https://mitz.test/geslotenautorisatievraag/xacml3"
    print(f"{'case':44s} {'median us':>10s} {'vs lxml parse':>14s}")
    for cats in ((DataCategory.GGC002,), tuple(DataCategory)):
        q = question(*cats)
        request = build_closed_question(q, url)
        answer = fake.handle(IncomingRequest("POST", url, {}, request)).body
        bare = per_call_us(lambda answer=answer: etree.fromstring(answer))
        build = per_call_us(lambda q=q: build_closed_question(q, url))
        parse = per_call_us(lambda q=q, answer=answer: parse_closed_answer(answer, q))
        both = per_call_us(lambda q=q, answer=answer: parse_closed_answer(answer, q) and build_closed_question(q, url))
        n = len(cats)
        print(f"{'baseline: lxml.etree.fromstring(answer)':44s} {bare:10.1f} {'1.00x':>14s}   [{n} cat]")
        print(f"{'build_closed_question':44s} {build:10.1f} {build / bare:13.2f}x   [{n} cat]")
        print(f"{'parse_closed_answer (hardened)':44s} {parse:10.1f} {parse / bare:13.2f}x   [{n} cat]")
        print(f"{'build + parse per question':44s} {both:10.1f} {both / bare:13.2f}x   [{n} cat]")


async def _bare_round(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> float:
    async def one() -> None:
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 200

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENCY):
            group.start_soon(one)
    return time.perf_counter() - start


async def _twiin_round(client: AsyncMitzClient, q: ConsentQuestion) -> float:
    async def one() -> None:
        assert (await client.check(q)).allowed()

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENCY):
            group.start_soon(one)
    return time.perf_counter() - start


def loopback() -> None:
    pki = TestPKI()
    server_id = pki.issue_server(ura="90000001", hostname="127.0.0.1")
    client_creds = pki.issue_server(ura="659").credentials()
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)])
    q = question(DataCategory.GGC002)
    server_ctx = server_ssl_context(server_id.credentials(), pki.trust_anchors)
    with serve(fake.handle, server_ctx) as running:
        url = running.url("/geslotenautorisatievraag/xacml3")
        message_id = "urn:uuid:00000000-0000-4000-8000-000000000000"
        body = build_closed_question(q, url, message_id=message_id)
        headers = closed_question_headers(message_id)

        async def main() -> tuple[list[float], list[float]]:
            ctx = client_ssl_context(client_creds, pki.trust_anchors)
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
            bare_times, twiin_times = [], []
            async with httpx.AsyncClient(verify=ctx, limits=limits, timeout=30) as bare:
                async with AsyncMitzClient(running.base_url, credentials=client_creds, trust=pki.trust_anchors) as tw:
                    await _bare_round(bare, url, body, headers)  # warm-up both
                    await _twiin_round(tw, q)
                    for _ in range(ROUNDS):
                        bare_times.append(await _bare_round(bare, url, body, headers))
                        twiin_times.append(await _twiin_round(tw, q))
            return bare_times, twiin_times

        bare_times, twiin_times = anyio.run(main)
    b, t = statistics.median(bare_times), statistics.median(twiin_times)
    print()
    print(f"{CONCURRENCY} concurrent closed questions, loopback mTLS (TLS 1.3), fake Mitz, median of {ROUNDS} rounds")
    print(f"{'case':44s} {'round ms':>10s} {'per q ms':>9s} {'ratio':>7s}")
    print(f"{'baseline: bare httpx.AsyncClient POST':44s} {b * 1000:10.1f} {b * 1000 / CONCURRENCY:9.2f} {'1.00x':>7s}")
    print(f"{'AsyncMitzClient.check (build+send+parse)':44s} {t * 1000:10.1f} {t * 1000 / CONCURRENCY:9.2f} {t / b:6.2f}x")


if __name__ == "__main__":
    micro()
    loopback()
