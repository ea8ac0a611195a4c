"""A Placer FHIR server for the flow tests: the in-memory store behind twiin's guard, on MockTransport.

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
from twiin.exchange.workflow import guard_task_write
from twiin.exchange.workflow.jsonpatch import apply
from twiin.fhir import AsyncFhirClient, FhirClient, FhirVersion
from twiin.identifiers import Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore

BASE = "https://placer.example.org/fhir"
Hook = Callable[[httpx.Request], None]


class PlacerServer:
    """The Placer's FHIR endpoint (``guard`` vets Task writes with the workflow rules)."""

    def __init__(self, placer_ura: Ura, *, guard: bool = True) -> None:
        self.store = MemoryFhirStore()
        self.fhir = FhirStoreServer(self.store, FhirVersion.R4, base_path="/fhir")
        self.placer_ura = placer_ura
        self.guard = guard
        self.requests: list[httpx.Request] = []
        self.before: list[Hook] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for hook in list(self.before):
            hook(request)
        incoming = IncomingRequest(request.method, str(request.url), dict(request.headers), request.content)
        answer = self._guarded(incoming)
        if answer is None and incoming.method == "PATCH":
            answer = self._patch(incoming)
        if answer is None:
            answer = self.fhir.handle(incoming)
        return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)

    def _guarded(self, incoming: IncomingRequest) -> Any:
        segs = [p for p in incoming.path.split("/") if p][1:]
        if not self.guard or not segs or segs[0] != "Task" or incoming.method not in ("POST", "PUT", "PATCH"):
            return None
        ura = Ura(incoming.headers["x-test-ura"])
        stored = None
        if incoming.method in ("PUT", "PATCH") and len(segs) == 2:
            current = self.store.current("Task", segs[1])
            stored = current.resource if current else None
        return guard_task_write(incoming, stored=stored, requester_ura=ura, placer_ura=self.placer_ura)

    def _patch(self, incoming: IncomingRequest) -> Answer:
        """JSON Patch, which the in-memory store does not offer: applied here, stored with If-Match."""
        segs = [p for p in incoming.path.split("/") if p][1:]
        current = self.store.current(segs[0], segs[1])
        if current is None or current.resource is None:
            return Answer.outcome(404, "not-found", "no such resource")
        match = incoming.headers.get("if-match")
        if match is not None and match.removeprefix("W/").strip('"') != current.version_id:
            return Answer.outcome(412, "conflict", "version mismatch (If-Match)")
        patched = apply(current.resource, json.loads(incoming.body))
        version, _ = self.store.update(patched, if_match=current.version_id)
        return Answer.fhir(200, version.resource, etag=f'W/"{version.version_id}"')

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
