"""Sync and async Placer facades: a few lines per method over :class:`~.placer.PlacerCore`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twiin.audit import Auditor
from twiin.exchange.workflow._facade import Clock, FacadeBase
from twiin.exchange.workflow.backends import as_async_backend, as_backend
from twiin.exchange.workflow.builders import Pattern
from twiin.exchange.workflow.core import Versioned
from twiin.exchange.workflow.placer import CreatedRequest, Invitation, PlacerCore, Selection, Withdrawal
from twiin.exchange.workflow.versioned import Change
from twiin.identifiers import Ura

__all__ = ["AsyncPlacer", "Placer"]


class Placer(FacadeBase):
    """The Placer's side of TA Workflow over a sync FHIR client (the Placer's own FHIR server)."""

    def __init__(
        self,
        client: Any,
        *,
        ura: Ura,
        identifier_system: str,
        attempts: int = 3,
        identifier_search: bool = True,
        use_patch: bool = False,
        clock: Clock | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        super().__init__(as_backend(client), clock, auditor, "placer")
        self.core = PlacerCore(ura, identifier_system, attempts, identifier_search, use_patch)

    def create_request(
        self,
        service_request: Mapping[str, Any],
        invitations: Sequence[Invitation],
        *,
        type_of_work: Mapping[str, Any],
        pattern: Pattern | None = None,
        supplemental_resources: Sequence[str] = (),
        supplemental_queries: Sequence[str] = (),
        description: str | None = None,
    ) -> CreatedRequest:
        """Create the ServiceRequest and one Coordination Task per invited Fulfiller."""
        return self._run(
            self.core.create_request(
                service_request,
                invitations,
                type_of_work=type_of_work,
                at=self._clock(),
                pattern=pattern,
                supplemental_resources=supplemental_resources,
                supplemental_queries=supplemental_queries,
                description=description,
            )
        )

    def read(self, resource_type: str, resource_id: str) -> Versioned:
        """Read one resource with its version."""
        return self._run(self.core.read(resource_type, resource_id))

    def coordination_tasks(self, service_request_id: str) -> list[Versioned]:
        """The Coordination Tasks of a request."""
        return self._run(self.core.coordination_tasks(service_request_id))

    def select(self, service_request_id: str, task_id: str, *, atomic: bool = True) -> Selection:
        """Select one candidate and cancel the others with ``not-selected``."""
        return self._run(self.core.select(service_request_id, task_id, at=self._clock(), atomic=atomic))

    def cancel(self, task: str | Versioned, reason: str) -> Versioned:
        """Cancel a Coordination Task before work started."""
        return self._run(self.core.cancel(task, reason, at=self._clock()))

    def update_task(self, task: str | Versioned, change: Change) -> Versioned:
        """Apply ``change`` version-aware, re-applying it after a 412."""
        return self._run(self.core.update_task(task, change))

    def request_cancellation(self, task: str | Versioned, *, reason_text: str | None = None) -> Versioned:
        """Create a Cancellation Request Task for in-progress work."""
        return self._run(self.core.request_cancellation(task, at=self._clock(), reason_text=reason_text))

    def withdraw_cancellation_request(self, crt: str | Versioned, reason: str) -> Versioned:
        """Withdraw a requested Cancellation Request Task."""
        return self._run(self.core.withdraw_cancellation_request(crt, reason, at=self._clock()))

    def finish_cancellation(self, crt: str | Versioned) -> Versioned:
        """After an accepted Cancellation Request, make sure the Coordination Task is ``failed``."""
        return self._run(self.core.finish_cancellation(crt, at=self._clock()))

    def authorization_cancellation_requests(self, *, status: str | None = "requested") -> list[Versioned]:
        """Authorization Cancellation Request Tasks addressed to this Placer."""
        return self._run(self.core.authorization_cancellation_requests(status=status))

    def accept_authorization_cancellation(
        self, acrt: str | Versioned, *, reason: str | None = None, withdraw: bool = True
    ) -> Withdrawal:
        """Accept a Fulfiller's request to withdraw the ServiceRequest (and withdraw it)."""
        return self._run(
            self.core.accept_authorization_cancellation(
                acrt, at=self._clock(), reason=reason, withdraw=withdraw
            )
        )

    def reject_authorization_cancellation(self, acrt: str | Versioned, reason: str) -> Versioned:
        """Refuse a Fulfiller's request to withdraw the ServiceRequest."""
        return self._run(self.core.reject_authorization_cancellation(acrt, reason, at=self._clock()))


class AsyncPlacer(FacadeBase):
    """The async twin of :class:`Placer`."""

    def __init__(
        self,
        client: Any,
        *,
        ura: Ura,
        identifier_system: str,
        attempts: int = 3,
        identifier_search: bool = True,
        use_patch: bool = False,
        clock: Clock | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        super().__init__(as_async_backend(client), clock, auditor, "placer")
        self.core = PlacerCore(ura, identifier_system, attempts, identifier_search, use_patch)

    async def create_request(
        self,
        service_request: Mapping[str, Any],
        invitations: Sequence[Invitation],
        *,
        type_of_work: Mapping[str, Any],
        pattern: Pattern | None = None,
        supplemental_resources: Sequence[str] = (),
        supplemental_queries: Sequence[str] = (),
        description: str | None = None,
    ) -> CreatedRequest:
        """Create the ServiceRequest and one Coordination Task per invited Fulfiller."""
        return await self._arun(
            self.core.create_request(
                service_request,
                invitations,
                type_of_work=type_of_work,
                at=self._clock(),
                pattern=pattern,
                supplemental_resources=supplemental_resources,
                supplemental_queries=supplemental_queries,
                description=description,
            )
        )

    async def read(self, resource_type: str, resource_id: str) -> Versioned:
        """Read one resource with its version."""
        return await self._arun(self.core.read(resource_type, resource_id))

    async def coordination_tasks(self, service_request_id: str) -> list[Versioned]:
        """The Coordination Tasks of a request."""
        return await self._arun(self.core.coordination_tasks(service_request_id))

    async def select(self, service_request_id: str, task_id: str, *, atomic: bool = True) -> Selection:
        """Select one candidate and cancel the others with ``not-selected``."""
        return await self._arun(
            self.core.select(service_request_id, task_id, at=self._clock(), atomic=atomic)
        )

    async def cancel(self, task: str | Versioned, reason: str) -> Versioned:
        """Cancel a Coordination Task before work started."""
        return await self._arun(self.core.cancel(task, reason, at=self._clock()))

    async def update_task(self, task: str | Versioned, change: Change) -> Versioned:
        """Apply ``change`` version-aware, re-applying it after a 412."""
        return await self._arun(self.core.update_task(task, change))

    async def request_cancellation(
        self, task: str | Versioned, *, reason_text: str | None = None
    ) -> Versioned:
        """Create a Cancellation Request Task for in-progress work."""
        return await self._arun(
            self.core.request_cancellation(task, at=self._clock(), reason_text=reason_text)
        )

    async def withdraw_cancellation_request(self, crt: str | Versioned, reason: str) -> Versioned:
        """Withdraw a requested Cancellation Request Task."""
        return await self._arun(self.core.withdraw_cancellation_request(crt, reason, at=self._clock()))

    async def finish_cancellation(self, crt: str | Versioned) -> Versioned:
        """After an accepted Cancellation Request, make sure the Coordination Task is ``failed``."""
        return await self._arun(self.core.finish_cancellation(crt, at=self._clock()))

    async def authorization_cancellation_requests(
        self, *, status: str | None = "requested"
    ) -> list[Versioned]:
        """Authorization Cancellation Request Tasks addressed to this Placer."""
        return await self._arun(self.core.authorization_cancellation_requests(status=status))

    async def accept_authorization_cancellation(
        self, acrt: str | Versioned, *, reason: str | None = None, withdraw: bool = True
    ) -> Withdrawal:
        """Accept a Fulfiller's request to withdraw the ServiceRequest (and withdraw it)."""
        return await self._arun(
            self.core.accept_authorization_cancellation(
                acrt, at=self._clock(), reason=reason, withdraw=withdraw
            )
        )

    async def reject_authorization_cancellation(self, acrt: str | Versioned, reason: str) -> Versioned:
        """Refuse a Fulfiller's request to withdraw the ServiceRequest."""
        return await self._arun(self.core.reject_authorization_cancellation(acrt, reason, at=self._clock()))
