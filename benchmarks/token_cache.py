"""Token cache under load: single-flight with a cold cache, and the per-request cost of TokenAuth.

Run: ``PYTHONPATH=src /work/venv/bin/python benchmarks/token_cache.py [--quick]``

A loopback mTLS server (``twiin.testing.serve``) hosts our own :class:`TokenEndpoint` at
``/token`` and a resource at ``/fhir/Task`` that answers 200 without checking the token, so the
measured difference is the client-side auth flow (cache lookup, lock, header). Printed:

1. warm cache, sequential requests, auth vs no auth interleaved in rounds: median ms and ratio,
   sync and async;
2. cold cache, 1,000 concurrent async requests through one ``ClientCredentialsAuth``: token
   requests made (must be 1) and wall time against the same 1,000 requests without auth (both
   clients open their 20 connections before the clock starts; the threaded test server bounds
   the throughput, so this ratio is noisier than 1. and 4.);
3. cold cache, 100 threads released together through one sync client: token requests (must be 1);
4. the auth flow's CPU cost per request in process (``httpx.MockTransport``), best of 5.

Not a test: nothing here asserts a timing; the ratios are measured against a baseline in the
same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time

import httpx

from twiin._http import client_ssl_context, create_async_client, create_client, server_ssl_context
from twiin.auth import AssertionSigner, ClientCredentialsAuth
from twiin.auth.server import AssertionPolicy, TokenEndpoint, TokenIssuer
from twiin.config import RetryPolicy, Timeouts
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import TestPKI
from twiin.testing.server import serve

CLIENT_URA = "12345678"
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
BURST_CONNECTIONS = 20  # the threaded test server, not the client, limits a burst's throughput
TIMEOUTS = Timeouts(connect=30.0, read=60.0, write=60.0, pool=120.0)  # 1,000 tasks queue for 100 connections


class App:
    """Token endpoint plus a resource that always answers 200; counts token requests."""

    def __init__(self) -> None:
        self.endpoint: TokenEndpoint | None = None
        self.token_requests = 0
        self._lock = threading.Lock()

    def __call__(self, request: IncomingRequest) -> Answer:
        if request.path == "/token":
            with self._lock:
                self.token_requests += 1
            assert self.endpoint is not None
            return self.endpoint.handle(request)
        return Answer.json(200, {"ok": True})


class Setup:
    """PKI, server and client TLS contexts shared by every measurement."""

    def __init__(self) -> None:
        self.pki = TestPKI(key_type="ec256")
        self.server_cert = self.pki.issue_server(ura="11111111", uzi_number="900000011", key_type="ec256")
        self.client_cert = self.pki.issue_server(ura=CLIENT_URA, key_type="ec256")
        self.client_ctx = client_ssl_context(self.client_cert.credentials(), self.pki.trust_anchors)
        self.server_ctx = server_ssl_context(
            self.server_cert.credentials(), self.pki.trust_anchors, require_client_certificate=True
        )

    def configure(self, app: App, base_url: str) -> str:
        token_url = f"{base_url}/token"
        policy = AssertionPolicy(
            audience=token_url,
            trust=self.pki.trust_anchors,
            check_revocation=False,
            intermediates=(self.pki.intermediate.certificate,),
        )
        issuer = TokenIssuer(AssertionSigner(self.server_cert.credentials()), issuer=base_url)
        app.endpoint = TokenEndpoint(issuer=issuer, policy=policy)
        return token_url

    def auth(self, token_url: str) -> ClientCredentialsAuth:
        """A fresh flow with its own (cold) cache."""
        return ClientCredentialsAuth(token_url, self.client_cert.credentials(), client_id=CLIENT_URA)


def _async_client(setup: Setup, auth: httpx.Auth | None, limits: httpx.Limits = LIMITS) -> httpx.AsyncClient:
    return create_async_client(
        ssl_context=setup.client_ctx,
        auth=auth,
        timeouts=TIMEOUTS,
        retry=RetryPolicy.disabled(),
        limits=limits,
    )


def _sync_client(setup: Setup, auth: httpx.Auth | None) -> httpx.Client:
    return create_client(
        ssl_context=setup.client_ctx,
        auth=auth,
        timeouts=TIMEOUTS,
        retry=RetryPolicy.disabled(),
        limits=LIMITS,
    )


# --- 1. cold cache, concurrent async requests -------------------------------------------------


async def _burst(client: httpx.AsyncClient, url: str, n: int) -> float:
    start = time.perf_counter()
    responses = await asyncio.gather(*(client.get(url) for _ in range(n)))
    elapsed = time.perf_counter() - start
    bad = [r.status_code for r in responses if r.status_code != 200]
    if bad:
        raise SystemExit(f"{len(bad)} requests failed: {sorted(set(bad))}")
    return elapsed


async def _cold_burst(setup: Setup, auth: httpx.Auth | None, api: str, n: int) -> float:
    """One burst of ``n`` concurrent requests on a client whose connections are already open."""
    limits = httpx.Limits(max_connections=BURST_CONNECTIONS, max_keepalive_connections=BURST_CONNECTIONS)
    async with _async_client(setup, auth, limits) as client:
        opening = (client.get(api, auth=None) for _ in range(BURST_CONNECTIONS))  # connections only, no token
        await asyncio.gather(*opening)
        return await _burst(client, api, n)


async def cold_async(setup: Setup, app: App, token_url: str, api: str, n: int, repeat: int) -> None:
    made: list[int] = []
    counted: list[int] = []
    times: dict[str, list[float]] = {"auth": [], "none": []}
    for _ in range(repeat):  # interleaved; connections are opened before the clock starts
        times["none"].append(await _cold_burst(setup, None, api, n))
        before = app.token_requests
        auth = setup.auth(token_url)  # a new flow: cold cache
        times["auth"].append(await _cold_burst(setup, auth, api, n))
        made.append(app.token_requests - before)
        counted.append(auth.token_requests)
    with_auth, without = statistics.median(times["auth"]), statistics.median(times["none"])
    print(f"\n2. cold cache, {n} concurrent async requests through one ClientCredentialsAuth, x{repeat}")
    verdict = "ok" if set(made) == set(counted) == {1} else "WRONG"
    print(f"   token requests made per burst: {made} (flow counted {counted}; must be 1: {verdict})")
    print(
        f"   median wall time: auth {with_auth:.2f} s, no auth {without:.2f} s, ratio {with_auth / without:.2f}"
        f" (auth includes the one token fetch)"
    )


# --- 2. cold cache, threads -------------------------------------------------------------------


def cold_threads(setup: Setup, app: App, token_url: str, api: str, n: int) -> None:
    before = app.token_requests
    auth = setup.auth(token_url)
    barrier = threading.Barrier(n)
    failures: list[str] = []
    with _sync_client(setup, auth) as client:

        def work() -> None:
            try:
                barrier.wait(timeout=60)
                status = client.get(api).status_code
                if status != 200:
                    failures.append(str(status))
            except Exception as exc:  # reported below
                failures.append(type(exc).__name__)

        threads = [threading.Thread(target=work) for _ in range(n)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    made = app.token_requests - before
    print(f"\n3. cold cache, {n} threads released together through one sync client")
    verdict = "ok" if made == auth.token_requests == 1 else "WRONG"
    print(f"   token requests made: {made} (flow counted {auth.token_requests}; must be 1: {verdict})")
    print(f"   wall time {elapsed:.2f} s, failures: {len(failures)} {sorted(set(failures))[:3]}")


# --- 3. warm cache, sequential ----------------------------------------------------------------


def warm_sync(setup: Setup, token_url: str, api: str, rounds: int, per_round: int) -> tuple[float, float]:
    auth = setup.auth(token_url)
    samples: dict[str, list[float]] = {"auth": [], "none": []}
    with _sync_client(setup, auth) as authed, _sync_client(setup, None) as plain:
        authed.get(api)  # token fetched, connection open
        plain.get(api)
        for _ in range(rounds):
            for name, client in (("none", plain), ("auth", authed)):
                for _ in range(per_round):
                    start = time.perf_counter()
                    client.get(api)
                    samples[name].append((time.perf_counter() - start) * 1000)
    return statistics.median(samples["auth"]), statistics.median(samples["none"])


async def warm_async(
    setup: Setup, token_url: str, api: str, rounds: int, per_round: int
) -> tuple[float, float]:
    auth = setup.auth(token_url)
    samples: dict[str, list[float]] = {"auth": [], "none": []}
    async with _async_client(setup, auth) as authed, _async_client(setup, None) as plain:
        await authed.get(api)
        await plain.get(api)
        for _ in range(rounds):
            for name, client in (("none", plain), ("auth", authed)):
                for _ in range(per_round):
                    start = time.perf_counter()
                    await client.get(api)
                    samples[name].append((time.perf_counter() - start) * 1000)
    return statistics.median(samples["auth"]), statistics.median(samples["none"])


# --- 4. in process ----------------------------------------------------------------------------


def _mock_handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/token":
        return httpx.Response(
            200, json={"access_token": "t" * 400, "token_type": "Bearer", "expires_in": 300}
        )
    return httpx.Response(200, json={"ok": True})


def in_process(setup: Setup, n: int) -> None:
    token_url = "https://as.in-process.test/token"
    api = "https://fhir.in-process.test/fhir/Task"
    mock = httpx.MockTransport(_mock_handler)
    auth = setup.auth(token_url)
    authed = httpx.Client(transport=mock, auth=auth)
    plain = httpx.Client(transport=mock)
    authed.get(api)
    best = {"auth": float("inf"), "none": float("inf")}
    for _ in range(5):
        for name, client in (("none", plain), ("auth", authed)):
            start = time.perf_counter()
            for _ in range(n):
                client.get(api)
            best[name] = min(best[name], (time.perf_counter() - start) / n * 1e6)
    authed.close()
    plain.close()

    async def run_async() -> dict[str, float]:
        amock = httpx.MockTransport(_mock_handler)
        aauth = setup.auth(token_url)
        abest = {"auth": float("inf"), "none": float("inf")}
        async with (
            httpx.AsyncClient(transport=amock, auth=aauth) as aauthed,
            httpx.AsyncClient(transport=amock) as aplain,
        ):
            await aauthed.get(api)
            for _ in range(5):
                for name, client in (("none", aplain), ("auth", aauthed)):
                    start = time.perf_counter()
                    for _ in range(n):
                        await client.get(api)
                    abest[name] = min(abest[name], (time.perf_counter() - start) / n * 1e6)
        return abest

    abest = asyncio.run(run_async())
    print(
        f"\n4. client CPU per request in process (MockTransport, warm cache), best of 5 x {n}, microseconds"
    )
    print(f"   {'mode':<8}{'no auth':>10}{'auth':>10}{'ratio':>8}{'auth flow':>12}")
    for mode, values in (("sync", best), ("async", abest)):
        ratio = values["auth"] / values["none"]
        print(
            f"   {mode:<8}{values['none']:>10.1f}{values['auth']:>10.1f}{ratio:>8.2f}"
            f"{values['auth'] - values['none']:>10.1f} us"
        )


def _report_warm(title: str, result: tuple[float, float]) -> None:
    with_auth, without = result
    print(
        f"   {title:<6} no auth {without:7.3f} ms   auth {with_auth:7.3f} ms   ratio {with_auth / without:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    args = parser.parse_args()
    burst, threads = 1000, 100
    rounds, per_round, in_proc, repeat = (4, 25, 300, 1) if args.quick else (10, 50, 2000, 3)
    started = time.perf_counter()
    setup = Setup()
    app = App()
    with serve(app, setup.server_ctx) as running:
        token_url = setup.configure(app, running.base_url)
        api = running.url("fhir/Task")
        print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}; mTLS server {running.base_url}")
        print(
            f"\n1. warm cache, sequential requests over loopback mTLS, {rounds} interleaved rounds x {per_round}"
        )
        _report_warm("sync", warm_sync(setup, token_url, api, rounds, per_round))
        _report_warm("async", asyncio.run(warm_async(setup, token_url, api, rounds, per_round)))
        asyncio.run(cold_async(setup, app, token_url, api, burst, repeat))
        cold_threads(setup, app, token_url, api, threads)
    in_process(setup, in_proc)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
