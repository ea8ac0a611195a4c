"""Pull facades: :class:`DirectPuller` (sync) and :class:`AsyncDirectPuller` over one core.

``pull(holder, patient, queries)`` asks consent first (nothing is sent for data without a
Permit), resolves the holder's FHIR base, runs the permitted queries concurrently (bounded by
``core.concurrency``) through :mod:`twiin.fhir` paging with the holder's token auth, audits
every step and returns a :class:`~twiin.exchange.pull.core.DirectPullResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from twiin._http.compat import httpx
from twiin._http.holder import AsyncClientHolder, ClientHolder
from twiin.errors import TwiinError
from twiin.exchange.pull.core import DirectPullCore, DirectPullResult, PullPlan, PullQuery, QueryResult
from twiin.fhir import AsyncFhirClient, FhirClient, FhirResult
from twiin.identifiers import Bsn, Ura
from twiin.usecases.bgz import BgzQuery

__all__ = ["AsyncDirectPuller", "DirectPuller"]

Queries = Sequence[PullQuery | BgzQuery | str]


class DirectPuller(ClientHolder):
    """Synchronous Pull facade; queries run in threads bounded by ``core.concurrency``."""

    def __init__(
        self, core: DirectPullCore, *, client: httpx.Client | None = None, **client_options: Any
    ) -> None:
        self.core = core
        super().__init__(client, client_options)

    def pull(self, holder: Ura, patient: Bsn, queries: Queries) -> DirectPullResult:
        """Run ``queries`` for ``patient`` at ``holder``; see the module docstring."""
        try:
            plan = self.core.plan(holder, patient, queries)
        except TwiinError as exc:
            self.core.failed(holder, patient, exc)
            raise
        if not plan.send:
            return self.core.finish(plan, ())
        assert plan.base_url is not None
        assert plan.version is not None
        fhir = FhirClient(plan.base_url, plan.version, client=self._client, auth=plan.auth, raw=True,
                          max_pages=self.core.max_pages)  # fmt: skip

        def run(item: tuple[PullQuery, str]) -> QueryResult:
            pages: list[FhirResult] = []
            try:
                pages.extend(fhir.iter_pages(item[1]))
            except TwiinError as exc:
                return self.core.query_result(plan, item[0], pages, exc)
            return self.core.query_result(plan, item[0], pages)

        with ThreadPoolExecutor(max_workers=max(1, self.core.concurrency)) as pool:
            results = list(pool.map(run, plan.send))
        return self.core.finish(plan, results)


class AsyncDirectPuller(AsyncClientHolder):
    """Asynchronous Pull facade (same methods as :class:`DirectPuller`); tasks bounded by a limiter."""

    def __init__(
        self, core: DirectPullCore, *, client: httpx.AsyncClient | None = None, **client_options: Any
    ) -> None:
        self.core = core
        super().__init__(client, client_options)

    async def pull(self, holder: Ura, patient: Bsn, queries: Queries) -> DirectPullResult:
        """Run ``queries`` for ``patient`` at ``holder``; see the module docstring."""
        try:  # the consent check and the resolver may block: keep them off the event loop
            plan: PullPlan = await anyio.to_thread.run_sync(self.core.plan, holder, patient, queries)
        except TwiinError as exc:
            self.core.failed(holder, patient, exc)
            raise
        if not plan.send:
            return self.core.finish(plan, ())
        assert plan.base_url is not None
        assert plan.version is not None
        fhir = AsyncFhirClient(plan.base_url, plan.version, client=self._client, auth=plan.auth, raw=True,
                               max_pages=self.core.max_pages)  # fmt: skip
        limiter = anyio.CapacityLimiter(max(1, self.core.concurrency))
        results: list[QueryResult | None] = [None] * len(plan.send)

        async def run(index: int, query: PullQuery, target: str) -> None:
            pages: list[FhirResult] = []
            async with limiter:
                try:
                    async for page in fhir.iter_pages(target):
                        pages.append(page)
                except TwiinError as exc:
                    results[index] = self.core.query_result(plan, query, pages, exc)
                    return
            results[index] = self.core.query_result(plan, query, pages)

        async with anyio.create_task_group() as group:
            for index, (query, target) in enumerate(plan.send):
                group.start_soon(run, index, query, target)
        return self.core.finish(plan, [r for r in results if r is not None])
