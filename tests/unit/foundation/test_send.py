"""Reading response bodies under a size cap: declared lengths, lying lengths, compressed bodies."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from twiin._http import asend, create_async_client, create_client, send
from twiin._http.compat import httpx
from twiin.errors import ResponseTooLarge

URL = "https://x.test/"


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that records whether anyone read it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.read = False

    def __iter__(self) -> Iterator[bytes]:
        self.read = True
        yield self.data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read = True
        yield self.data


def test_declared_length_above_the_cap_is_refused_unread() -> None:
    body = Body(b"x" * 5000)
    client = create_client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, headers={"Content-Length": "5000"}, stream=body)
        )
    )
    with pytest.raises(ResponseTooLarge):
        send(client, client.build_request("GET", URL), max_bytes=1000)
    assert not body.read


def test_declared_length_within_the_cap_is_read_whole() -> None:
    client = create_client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"abc" * 100)))
    response = send(client, client.build_request("GET", URL), max_bytes=300)
    assert response.content == b"abc" * 100
    assert response.is_closed


def test_a_lying_content_length_does_not_lift_the_cap() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10"}, stream=Body(b"y" * 5000))

    client = create_client(transport=httpx.MockTransport(handler))
    with pytest.raises(ResponseTooLarge):
        send(client, client.build_request("GET", URL), max_bytes=1000)


def test_compressed_body_is_capped_after_decoding() -> None:
    bomb = gzip.compress(b"z" * 50_000)
    assert len(bomb) < 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb)

    client = create_client(transport=httpx.MockTransport(handler))
    with pytest.raises(ResponseTooLarge):
        send(client, client.build_request("GET", URL), max_bytes=1000)
    small = gzip.compress(b"ok")
    client = create_client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=small)
        )
    )
    response = send(client, client.build_request("GET", URL), max_bytes=1000)
    assert response.content == b"ok"
    assert "content-encoding" not in response.headers


def test_async_declared_length_cap() -> None:
    body = Body(b"x" * 5000)

    async def scenario() -> bytes:
        transport = httpx.MockTransport(
            lambda r: httpx.Response(200, headers={"Content-Length": "5000"}, stream=body)
        )
        async with create_async_client(transport=transport) as client:
            with pytest.raises(ResponseTooLarge):
                await asend(client, client.build_request("GET", URL), max_bytes=1000)
            assert not body.read
            return (await asend(client, client.build_request("GET", URL), max_bytes=5000)).content

    assert anyio.run(scenario) == b"x" * 5000
