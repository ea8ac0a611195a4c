"""Retry transport behaviour over httpx.MockTransport (no real sleeping)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twiin._http import AsyncRetryTransport, RetryTransport, create_client, parse_retry_after, send
from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.errors import ConnectionError, TLSError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*steps: int | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        headers = {"Retry-After": "2"} if step == 429 else {}
        return httpx.Response(step, headers=headers, json={})

    return httpx.MockTransport(handler), seen


def client_for(
    transport: httpx.BaseTransport, clock: Clock, policy: RetryPolicy | None = None
) -> httpx.Client:
    retry = RetryTransport(
        transport, policy or RetryPolicy(), sleep=clock.sleep, clock=clock, rng=lambda: 1.0
    )
    return httpx.Client(transport=retry)


def test_get_503_then_200_is_retried() -> None:
    transport, seen = scripted(503, 200)
    clock = Clock()
    response = client_for(transport, clock).get("https://fhir.test/Patient/1")
    assert response.status_code == 200
    assert len(seen) == 2
    assert clock.sleeps == [0.25]


def test_post_503_is_not_retried() -> None:
    transport, seen = scripted(503, 200)
    response = client_for(transport, Clock()).post("https://fhir.test/Task", json={})
    assert response.status_code == 503
    assert len(seen) == 1


def test_post_marked_safe_is_retried() -> None:
    transport, seen = scripted(503, 200)
    client = client_for(transport, Clock())
    request = client.build_request("POST", "https://fhir.test/_search", extensions={"twiin.retry": True})
    assert client.send(request).status_code == 200
    assert len(seen) == 2


def test_retry_after_is_honoured() -> None:
    transport, _ = scripted(429, 200)
    clock = Clock()
    assert client_for(transport, clock).get("https://fhir.test/x").status_code == 200
    assert clock.sleeps == [2.0]


def test_retry_after_beyond_cap_returns_the_429() -> None:
    transport, seen = scripted(429, 200)
    policy = RetryPolicy(max_retry_after=1.0)
    assert client_for(transport, Clock(), policy).get("https://fhir.test/x").status_code == 429
    assert len(seen) == 1


def test_attempts_are_bounded() -> None:
    transport, seen = scripted(503, 503, 503, 503)
    assert (
        client_for(transport, Clock(), RetryPolicy(max_attempts=3)).get("https://x.test/").status_code == 503
    )
    assert len(seen) == 3


def test_deadline_is_respected() -> None:
    transport, seen = scripted(503, 503, 503, 200)
    clock = Clock()
    policy = RetryPolicy(max_attempts=10, backoff_base=4.0, deadline=5.0)
    assert client_for(transport, clock, policy).get("https://x.test/").status_code == 503
    assert sum(clock.sleeps) <= 5.0
    assert len(seen) == 2


def test_backoff_is_exponential_and_capped() -> None:
    transport, _ = scripted(503, 503, 503, 503, 200)
    clock = Clock()
    policy = RetryPolicy(max_attempts=5, backoff_base=1.0, backoff_max=3.0, deadline=100)
    client_for(transport, clock, policy).get("https://x.test/")
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0]


def test_connect_error_is_retried_even_for_post() -> None:
    transport, seen = scripted(httpx.ConnectError("refused"), 201)
    assert client_for(transport, Clock()).post("https://x.test/Task").status_code == 201
    assert len(seen) == 2


def test_read_error_after_send_not_retried_for_post() -> None:
    transport, seen = scripted(httpx.ReadError("reset"), 201)
    with pytest.raises(httpx.ReadError):
        client_for(transport, Clock()).post("https://x.test/Task")
    assert len(seen) == 1


def test_tls_failure_is_never_retried() -> None:
    transport, seen = scripted(
        httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), 200
    )
    with pytest.raises(httpx.ConnectError):
        client_for(transport, Clock()).get("https://x.test/")
    assert len(seen) == 1


def test_send_maps_errors_to_twiin_tree() -> None:
    def boom(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            raise exc

        return handler

    tls = create_client(
        transport=httpx.MockTransport(boom(httpx.ReadError("TLSV13_ALERT_CERTIFICATE_REQUIRED")))
    )
    with pytest.raises(TLSError) as info:
        send(tls, tls.build_request("GET", "https://x.test/Patient?identifier=bsn|999999151"))
    assert "999999151" not in str(info.value)
    plain = create_client(
        transport=httpx.MockTransport(boom(httpx.ConnectError("refused"))), retry=RetryPolicy.disabled()
    )
    with pytest.raises(ConnectionError) as conn:
        send(plain, plain.build_request("GET", "https://x.test/"))
    assert conn.value.retryable


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("7") == 7.0


@pytest.mark.anyio
async def test_async_retry_transport() -> None:
    transport, seen = scripted(502, 200)
    retry = AsyncRetryTransport(
        transport, RetryPolicy(backoff_base=0.001), clock=lambda: 0.0, rng=lambda: 1.0
    )
    async with httpx.AsyncClient(transport=retry) as client:
        response = await client.get("https://x.test/")
    assert response.status_code == 200
    assert len(seen) == 2


def test_response_size_cap() -> None:
    from twiin.errors import ResponseTooLarge

    client = create_client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 5000)))
    with pytest.raises(ResponseTooLarge):
        send(client, client.build_request("GET", "https://x.test/"), max_bytes=1000)
    assert (
        send(client, client.build_request("GET", "https://x.test/"), max_bytes=10000).content == b"x" * 5000
    )


def test_redirects_are_not_followed() -> None:
    client = create_client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(302, headers={"Location": "https://evil.test/"})
        )
    )
    assert send(client, client.build_request("GET", "https://x.test/")).status_code == 302
