"""Receiver half, client side: pull everything a notification offers (sync and async facades).

``pull(notification)`` resolves the sender's FHIR base (BgZ server payload type, STU3), gets
the token auth carrying the authorization base, fetches the workflow Task when asked, runs
every read and search concurrently under a bounded limit, follows paging links behind the
same-origin guard, audits every step and returns a :class:`PullResult` with one result per
input. When the sender cancels (revoked authorization base) the pull raises
:class:`~twiin.errors.NotificationCancelled` carrying the partial result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import attrs

from twiin._http import asend, create_async_client, create_client, send
from twiin._http.compat import httpx
from twiin.addressing import PayloadType
from twiin.audit import Auditor
from twiin.errors import NotificationCancelled, PagingError, TwiinError
from twiin.exchange.notified_pull.http_core import ACCEPT, resolve_target
from twiin.exchange.notified_pull.ports import BGZ_SERVER_PAYLOAD, EndpointResolver
from twiin.exchange.notified_pull.pull import InputResult, PullResult, PullStep, interpret, plan_pull
from twiin.exchange.notified_pull.receiver import Notification
from twiin.exchange.notified_pull.task import NotificationTask
from twiin.fhir_version import FhirVersion

__all__ = ["AsyncPuller", "PullCore", "Puller"]

AuthForPull = Callable[[NotificationTask, str], httpx.Auth | None]


@attrs.define
class PullCore:
    """The I/O-free part of the pull: where to go, what to fetch, how to fold and audit."""

    resolver: EndpointResolver
    auth_for: AuthForPull
    auditor: Auditor | None = None
    payload_type: PayloadType | str = BGZ_SERVER_PAYLOAD
    concurrency: int = 8
    max_pages: int = 100
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def start(self, notification: Notification) -> tuple[str, list[PullStep]]:
        """The sender's base URL and the steps; raises ``NotificationCancelled`` for a cancelled Task."""
        task = notification.task
        if notification.cancelled:
            self.audit(notification, "notified-pull.pull", "failure", None, "notification cancelled")
            raise NotificationCancelled()
        found = self.resolver.resolve(notification.sender, self.payload_type, fhir_version=FhirVersion.STU3)
        base_url = found[0].address
        self.audit(notification, "notified-pull.pull-start", "success", None, f"{len(plan_pull(task))} steps")
        return base_url, plan_pull(task)

    def request(self, base_url: str, url_or_target: str) -> httpx.Request:
        """A GET for a step target or a paging URL."""
        url = url_or_target if _is_absolute(url_or_target) else resolve_target(base_url, url_or_target)
        return httpx.Request("GET", url, headers=ACCEPT)

    def audit(
        self, notification: Notification, action: str, outcome: str, query: str | None, detail: str | None
    ) -> None:
        """Record one pull step."""
        if self.auditor is not None:
            task = notification.task
            self.auditor.record(
                action, "success" if outcome == "success" else "failure", patient=task.patient,
                peer=notification.sender, query=query, correlation_id=task.group_identifier, detail=detail,
            )  # fmt: skip

    def finish(self, notification: Notification, base_url: str, results: list[InputResult]) -> PullResult:
        """Assemble the result, audit the end, raise ``NotificationCancelled`` when the sender cancelled."""
        workflow = next((r for r in results if r.step.kind == "workflow-task" and r.ok), None)
        result = PullResult(
            notification.task.identifier, notification.sender, base_url,
            tuple(r for r in results if r.step.kind != "workflow-task") if workflow else tuple(results),
            workflow.resources[0] if workflow else None,
        )  # fmt: skip
        failed = len([r for r in results if not r.ok])
        self.audit(notification, "notified-pull.pull", "success" if not failed else "failure", None,
                   f"{len(results) - failed} ok, {failed} failed")  # fmt: skip
        if any(r.cancelled for r in results):
            raise NotificationCancelled(partial=result)
        return result

    def step_done(self, notification: Notification, step: PullStep, result: InputResult) -> InputResult:
        """Audit one finished step."""
        detail = None if result.ok else type(result.error).__name__
        self.audit(
            notification,
            f"notified-pull.{step.kind}",
            "success" if result.ok else "failure",
            step.target,
            detail,
        )
        return result


class Puller:
    """Synchronous pull facade: threads bounded by ``core.concurrency``."""

    def __init__(
        self, core: PullCore, *, client: httpx.Client | None = None, **client_options: object
    ) -> None:
        self.core = core
        self._client = client or create_client(**client_options)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def __enter__(self) -> Puller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(
        self, notification: Notification, base_url: str, step: PullStep, auth: httpx.Auth | None
    ) -> InputResult:
        pages: list[dict[str, Any]] = []
        resources: list[dict[str, Any]] = []
        seen: set[str] = set()
        url: str | None = step.target
        try:
            while url is not None:
                if len(pages) >= self.core.max_pages:
                    raise PagingError("page limit reached")
                request = self.core.request(base_url, url)
                seen.add(str(request.url))
                outcome = interpret(step, send(self._client, request, auth=auth), base_url, seen)
                pages.append(outcome.raw)
                resources.extend(outcome.resources)
                url = outcome.next_url
        except TwiinError as exc:
            return self.core.step_done(
                notification, step, InputResult(step, tuple(resources), tuple(pages), exc)
            )
        return self.core.step_done(notification, step, InputResult(step, tuple(resources), tuple(pages)))

    def pull(self, notification: Notification) -> PullResult:
        """Fetch every input of ``notification``; see the module docstring."""
        base_url, steps = self.core.start(notification)
        auth = self.core.auth_for(notification.task, base_url)
        results: list[InputResult] = []
        if steps and steps[0].kind == "workflow-task":
            results.append(self._run(notification, base_url, steps.pop(0), auth))
        with ThreadPoolExecutor(max_workers=max(1, self.core.concurrency)) as pool:
            results.extend(pool.map(lambda s: self._run(notification, base_url, s, auth), steps))
        return self.core.finish(notification, base_url, results)


class AsyncPuller:
    """Asynchronous pull facade (same methods as :class:`Puller`): tasks bounded by a limiter."""

    def __init__(
        self, core: PullCore, *, client: httpx.AsyncClient | None = None, **client_options: object
    ) -> None:
        self.core = core
        self._client = client or create_async_client(**client_options)  # type: ignore[arg-type]

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncPuller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(
        self, notification: Notification, base_url: str, step: PullStep, auth: httpx.Auth | None
    ) -> InputResult:
        pages: list[dict[str, Any]] = []
        resources: list[dict[str, Any]] = []
        seen: set[str] = set()
        url: str | None = step.target
        try:
            while url is not None:
                if len(pages) >= self.core.max_pages:
                    raise PagingError("page limit reached")
                request = self.core.request(base_url, url)
                seen.add(str(request.url))
                outcome = interpret(step, await asend(self._client, request, auth=auth), base_url, seen)
                pages.append(outcome.raw)
                resources.extend(outcome.resources)
                url = outcome.next_url
        except TwiinError as exc:
            return self.core.step_done(
                notification, step, InputResult(step, tuple(resources), tuple(pages), exc)
            )
        return self.core.step_done(notification, step, InputResult(step, tuple(resources), tuple(pages)))

    async def pull(self, notification: Notification) -> PullResult:
        """Fetch every input of ``notification``; see the module docstring."""
        base_url, steps = self.core.start(notification)
        auth = self.core.auth_for(notification.task, base_url)
        first: list[InputResult] = []
        if steps and steps[0].kind == "workflow-task":
            first.append(await self._run(notification, base_url, steps.pop(0), auth))
        slots: list[InputResult | None] = [None] * len(steps)
        limiter = anyio.CapacityLimiter(max(1, self.core.concurrency))

        async def worker(index: int, step: PullStep) -> None:
            async with limiter:
                slots[index] = await self._run(notification, base_url, step, auth)

        async with anyio.create_task_group() as group:
            for index, step in enumerate(steps):
                group.start_soon(worker, index, step)
        results = first + [r for r in slots if r is not None]
        return self.core.finish(notification, base_url, results)


def _is_absolute(target: str) -> bool:
    return target.startswith(("https://", "http://"))
