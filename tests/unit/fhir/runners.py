"""Runners: the same test drives FhirClient and AsyncFhirClient over httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.fhir import AsyncFhirClient, FhirClient, FhirVersion

BASE = "https://fhir.example.org/fhir"
Handler = Callable[[httpx.Request], httpx.Response]


class SyncRunner:
    kind = "sync"

    def __init__(self, handler: Handler, **kw: Any) -> None:
        kw.setdefault("retry", RetryPolicy.disabled())
        self.client = FhirClient(
            kw.pop("base_url", BASE),
            kw.pop("version", FhirVersion.R4),
            transport=httpx.MockTransport(handler),
            **kw,
        )

    def __call__(self, name: str, /, *args: Any, **kw: Any) -> Any:
        return getattr(self.client, name)(*args, **kw)

    def collect(self, name: str, /, *args: Any, **kw: Any) -> list[Any]:
        return list(getattr(self.client, name)(*args, **kw))


class AsyncRunner:
    kind = "async"

    def __init__(self, handler: Handler, **kw: Any) -> None:
        kw.setdefault("retry", RetryPolicy.disabled())
        self.client = AsyncFhirClient(
            kw.pop("base_url", BASE),
            kw.pop("version", FhirVersion.R4),
            transport=httpx.MockTransport(handler),
            **kw,
        )

    def __call__(self, name: str, /, *args: Any, **kw: Any) -> Any:
        async def go() -> Any:
            return await getattr(self.client, name)(*args, **kw)

        return anyio.run(go)

    def collect(self, name: str, /, *args: Any, **kw: Any) -> list[Any]:
        async def go() -> list[Any]:
            return [item async for item in getattr(self.client, name)(*args, **kw)]

        return anyio.run(go)


Runner = SyncRunner | AsyncRunner


def fhir_response(status: int, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    """A FHIR JSON response."""
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers={"Content-Type": "application/fhir+json", **headers})
