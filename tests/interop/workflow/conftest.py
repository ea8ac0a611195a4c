"""TA Workflow against the Medplum FHIR peer: recording transports and sync/async parties."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.exchange.workflow import AssignedId
from twiin.fhir import AsyncFhirClient, FhirClient
from twiin.identifiers import Ura

Hook = Callable[[httpx.Request], None]


class Recorder:
    """What went over the wire (method, path, If-Match, status) plus hooks run before each request."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str | None, int]] = []
        self.before: list[Hook] = []

    def note(self, request: httpx.Request, status: int) -> None:
        self.sent.append((request.method, request.url.path, request.headers.get("if-match"), status))

    def puts(self, path_part: str = "") -> list[tuple[str | None, int]]:
        return [(m, s) for (meth, p, m, s) in self.sent if meth == "PUT" and path_part in p]


class RecordingTransport(httpx.BaseTransport):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for hook in list(self.recorder.before):
            hook(request)
        response = self.inner.handle_request(request)
        self.recorder.note(request, response.status_code)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for hook in list(self.recorder.before):
            hook(request)
        response = await self.inner.handle_async_request(request)
        self.recorder.note(request, response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Party:
    """Calls a sync or async facade the same way; async calls run on one event loop per test."""

    def __init__(self, facade: Any, portal: BlockingPortal | None) -> None:
        self.facade = facade
        self.portal = portal

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.facade, name)
        if self.portal is None or name == "is_mine":
            return method
        portal = self.portal

        def call(*args: Any, **kw: Any) -> Any:
            return portal.call(functools.partial(method, *args, **kw))

        return call


@pytest.fixture
def portal(mode: str) -> Iterator[BlockingPortal | None]:
    """An event loop in a thread for the async parties (None in sync mode)."""
    if mode != "async":
        yield None
        return
    with start_blocking_portal() as running:
        yield running


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def plain(medplum_base_url: str) -> Iterator[FhirClient]:
    """A plain client for setting up and checking state behind the parties' backs."""
    with FhirClient(medplum_base_url, retry=RetryPolicy.disabled()) as client:
        yield client


@pytest.fixture
def make_client(medplum_base_url: str, recorder: Recorder, mode: str) -> Callable[[], Any]:
    def make() -> Any:
        if mode == "async":
            return AsyncFhirClient(
                medplum_base_url, transport=AsyncRecordingTransport(recorder), retry=RetryPolicy.disabled()
            )
        return FhirClient(
            medplum_base_url, transport=RecordingTransport(recorder), retry=RetryPolicy.disabled()
        )

    return make


@pytest.fixture
def tag() -> str:
    """A unique value per test (the peer's state is shared by the session)."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def owners(tag: str) -> tuple[AssignedId, AssignedId, AssignedId]:
    return (
        AssignedId(f"https://fulfiller-a.example.org/{tag}/hcs", "wondzorg-thuis", Ura("87654321")),
        AssignedId(f"https://fulfiller-b.example.org/{tag}/hcs", "wijkverpleging-noord", Ura("11223344")),
        AssignedId(f"https://fulfiller-c.example.org/{tag}/hcs", "thuiszorg", Ura("55555555")),
    )
