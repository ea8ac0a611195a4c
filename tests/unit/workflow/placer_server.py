"""A Placer FHIR server for the flow tests: ``twiin.testing.placer.PlacerFhirServer`` on MockTransport.

Clients say who they are with an ``x-test-ura`` header (standing in for mTLS + token). Every
request is recorded; ``before`` hooks can interfere (e.g. a concurrent write before a PUT).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio

from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.fhir import AsyncFhirClient, FhirClient
from twiin.identifiers import Ura
from twiin.serving import IncomingRequest
from twiin.testing.placer import PlacerFhirServer

BASE = "https://placer.example.org/fhir"
Hook = Callable[[httpx.Request], None]


class PlacerServer:
    """The Placer's FHIR endpoint (``guard`` vets Task writes with the workflow rules)."""

    def __init__(self, placer_ura: Ura, *, guard: bool = True) -> None:
        self.placer = PlacerFhirServer(placer_ura, identify=lambda r: Ura(r.headers["x-test-ura"]))
        self.store = self.placer.store
        self.fhir = self.placer.fhir
        self.placer_ura = placer_ura
        self.guard = guard
        self.requests: list[httpx.Request] = []
        self.before: list[Hook] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for hook in list(self.before):
            hook(request)
        incoming = IncomingRequest(request.method, str(request.url), dict(request.headers), request.content)
        answer = (self.placer if self.guard else self.fhir).handle(incoming)
        return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)

    # -- helpers for tests ---------------------------------------------------------------------
    def client(self, ura: Ura) -> FhirClient:
        return FhirClient(
            BASE,
            transport=httpx.MockTransport(self.handle),
            retry=RetryPolicy.disabled(),
            headers={"x-test-ura": ura.value},
        )

    def async_client(self, ura: Ura) -> AsyncFhirClient:
        return AsyncFhirClient(
            BASE,
            transport=httpx.MockTransport(self.handle),
            retry=RetryPolicy.disabled(),
            headers={"x-test-ura": ura.value},
        )

    def current(self, type_: str, id_: str) -> dict[str, Any]:
        version = self.store.current(type_, id_)
        assert version is not None
        assert version.resource is not None
        return version.resource

    def count(self, method: str, path_part: str = "") -> int:
        return sum(1 for r in self.requests if r.method == method and path_part in r.url.path)

    def sent_bodies(self, method: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == method and r.content]


class Party:
    """Calls a sync or async facade the same way (``party.accept(task)``), for one parametrised suite."""

    def __init__(self, facade: Any, is_async: bool) -> None:
        self.facade = facade
        self.is_async = is_async

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.facade, name)
        if not self.is_async or name == "is_mine":
            return method

        def call(*args: Any, **kw: Any) -> Any:
            async def go() -> Any:
                return await method(*args, **kw)

            return anyio.run(go)

        return call
