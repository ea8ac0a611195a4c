"""Sync and async Fulfiller facades: a few lines per method over :class:`~.fulfiller.FulfillerCore`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twiin.audit import Auditor
from twiin.exchange.workflow._facade import Clock, FacadeBase
from twiin.exchange.workflow.backends import as_async_backend, as_backend
from twiin.exchange.workflow.builders import AssignedId
from twiin.exchange.workflow.core import Versioned
from twiin.exchange.workflow.fulfiller import CancellationOutcome, FulfillerCore
from twiin.exchange.workflow.sync import SyncCursor, SyncResult
from twiin.exchange.workflow.versioned import Change

__all__ = ["AsyncFulfiller", "Fulfiller"]


class Fulfiller(FacadeBase):
    """The Fulfiller's side of TA Workflow for one HealthcareService, over a sync client to the Placer."""

    def __init__(
        self,
        client: Any,
        *,
        owner: AssignedId,
        attempts: int = 3,
        identifier_search: bool = True,
        use_patch: bool = False,
        clock: Clock | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        super().__init__(as_backend(client), clock, auditor, "fulfiller")
        self.core = FulfillerCore(owner, attempts, identifier_search, use_patch)

    def is_mine(self, task: Mapping[str, Any]) -> bool:
        """True when ``task`` is owned by this HealthcareService."""
        return self.core.is_mine(task)

    def tasks(
        self,
        *,
        status: str | Sequence[str] | None = None,
        code: str | None = None,
        focus: str | None = None,
        params: Sequence[tuple[str, str]] = (),
    ) -> list[Versioned]:
        """This owner's Tasks (``owner:identifier``), optionally filtered."""
        return self._run(self.core.tasks(status=status, code=code, focus=focus, params=params))

    def resynchronize(self, cursor: SyncCursor | None = None) -> SyncResult:
        """Tasks changed since ``cursor`` and the next cursor (``_lastUpdated``)."""
        return self._run(self.core.resynchronize(cursor))

    def read(self, resource_type: str, resource_id: str) -> Versioned:
        """Read a resource at the Placer with its version."""
        return self._run(self.core.read(resource_type, resource_id))

    def cancellation_requests(self, *, status: str | None = "requested") -> list[Versioned]:
        """Cancellation Request Tasks addressed to this owner."""
        return self._run(self.core.cancellation_requests(status=status))

    def update_task(self, task: str | Versioned, change: Change) -> Versioned:
        """Apply ``change`` version-aware, re-applying it after a 412 (bounded)."""
        return self._run(self.core.update_task(task, change))

    def receive(self, task: str | Versioned) -> Versioned:
        """Acknowledge a requested Task."""
        return self._run(self.core.receive(task, at=self._clock()))

    def accept(self, task: str | Versioned, *, bid: str | None = None) -> Versioned:
        """Accept, optionally with a bid."""
        return self._run(self.core.accept(task, at=self._clock(), bid=bid))

    def reject(self, task: str | Versioned, reason: str) -> Versioned:
        """Reject with a reason."""
        return self._run(self.core.reject(task, reason, at=self._clock()))

    def start(self, task: str | Versioned) -> Versioned:
        """Start work (only when code is ``fulfill``)."""
        return self._run(self.core.start(task, at=self._clock()))

    def complete(self, task: str | Versioned, *, outputs: Sequence[Mapping[str, Any]] = ()) -> Versioned:
        """Complete started work."""
        return self._run(self.core.complete(task, at=self._clock(), outputs=outputs))

    def fail(self, task: str | Versioned, reason: str) -> Versioned:
        """End started work as failed."""
        return self._run(self.core.fail(task, reason, at=self._clock()))

    def accept_cancellation_request(self, crt: str | Versioned) -> CancellationOutcome:
        """Accept a Cancellation Request and fail the Coordination Task."""
        return self._run(self.core.accept_cancellation_request(crt, at=self._clock()))

    def reject_cancellation_request(self, crt: str | Versioned, reason: str) -> Versioned:
        """Refuse a Cancellation Request."""
        return self._run(self.core.reject_cancellation_request(crt, reason, at=self._clock()))

    def request_authorization_cancellation(self, task: str | Versioned, reason: str) -> Versioned:
        """Ask the Placer to withdraw the request behind ``task``."""
        return self._run(self.core.request_authorization_cancellation(task, reason, at=self._clock()))

    def authorization_cancellation_requests(self, *, focus: str | None = None) -> list[Versioned]:
        """The Authorization Cancellation Request Tasks this organization created."""
        return self._run(self.core.authorization_cancellation_requests(focus=focus))


class AsyncFulfiller(FacadeBase):
    """The async twin of :class:`Fulfiller`."""

    def __init__(
        self,
        client: Any,
        *,
        owner: AssignedId,
        attempts: int = 3,
        identifier_search: bool = True,
        use_patch: bool = False,
        clock: Clock | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        super().__init__(as_async_backend(client), clock, auditor, "fulfiller")
        self.core = FulfillerCore(owner, attempts, identifier_search, use_patch)

    def is_mine(self, task: Mapping[str, Any]) -> bool:
        """True when ``task`` is owned by this HealthcareService."""
        return self.core.is_mine(task)

    async def tasks(
        self,
        *,
        status: str | Sequence[str] | None = None,
        code: str | None = None,
        focus: str | None = None,
        params: Sequence[tuple[str, str]] = (),
    ) -> list[Versioned]:
        """This owner's Tasks (``owner:identifier``), optionally filtered."""
        return await self._arun(self.core.tasks(status=status, code=code, focus=focus, params=params))

    async def resynchronize(self, cursor: SyncCursor | None = None) -> SyncResult:
        """Tasks changed since ``cursor`` and the next cursor (``_lastUpdated``)."""
        return await self._arun(self.core.resynchronize(cursor))

    async def read(self, resource_type: str, resource_id: str) -> Versioned:
        """Read a resource at the Placer with its version."""
        return await self._arun(self.core.read(resource_type, resource_id))

    async def cancellation_requests(self, *, status: str | None = "requested") -> list[Versioned]:
        """Cancellation Request Tasks addressed to this owner."""
        return await self._arun(self.core.cancellation_requests(status=status))

    async def update_task(self, task: str | Versioned, change: Change) -> Versioned:
        """Apply ``change`` version-aware, re-applying it after a 412 (bounded)."""
        return await self._arun(self.core.update_task(task, change))

    async def receive(self, task: str | Versioned) -> Versioned:
        """Acknowledge a requested Task."""
        return await self._arun(self.core.receive(task, at=self._clock()))

    async def accept(self, task: str | Versioned, *, bid: str | None = None) -> Versioned:
        """Accept, optionally with a bid."""
        return await self._arun(self.core.accept(task, at=self._clock(), bid=bid))

    async def reject(self, task: str | Versioned, reason: str) -> Versioned:
        """Reject with a reason."""
        return await self._arun(self.core.reject(task, reason, at=self._clock()))

    async def start(self, task: str | Versioned) -> Versioned:
        """Start work (only when code is ``fulfill``)."""
        return await self._arun(self.core.start(task, at=self._clock()))

    async def complete(
        self, task: str | Versioned, *, outputs: Sequence[Mapping[str, Any]] = ()
    ) -> Versioned:
        """Complete started work."""
        return await self._arun(self.core.complete(task, at=self._clock(), outputs=outputs))

    async def fail(self, task: str | Versioned, reason: str) -> Versioned:
        """End started work as failed."""
        return await self._arun(self.core.fail(task, reason, at=self._clock()))

    async def accept_cancellation_request(self, crt: str | Versioned) -> CancellationOutcome:
        """Accept a Cancellation Request and fail the Coordination Task."""
        return await self._arun(self.core.accept_cancellation_request(crt, at=self._clock()))

    async def reject_cancellation_request(self, crt: str | Versioned, reason: str) -> Versioned:
        """Refuse a Cancellation Request."""
        return await self._arun(self.core.reject_cancellation_request(crt, reason, at=self._clock()))

    async def request_authorization_cancellation(self, task: str | Versioned, reason: str) -> Versioned:
        """Ask the Placer to withdraw the request behind ``task``."""
        return await self._arun(self.core.request_authorization_cancellation(task, reason, at=self._clock()))

    async def authorization_cancellation_requests(self, *, focus: str | None = None) -> list[Versioned]:
        """The Authorization Cancellation Request Tasks this organization created."""
        return await self._arun(self.core.authorization_cancellation_requests(focus=focus))
