"""The Fulfiller half of TA Workflow as sans-I/O operations (see :mod:`twiin.exchange.workflow.core`).

A Fulfiller is one HealthcareService (its custodian-assigned identifier, assigned by the
organization's URA). It finds and reads its Tasks at the Placer, moves them through the life
cycle with version-aware updates, answers Cancellation Requests, and may ask the Placer to
withdraw the request (Authorization Cancellation Request Task, the only Task it creates).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from twiin import naming
from twiin.errors import ExchangeError, IllegalTransition
from twiin.exchange.workflow import transitions as tr
from twiin.exchange.workflow.access import roles_of
from twiin.exchange.workflow.builders import AssignedId, authorization_cancellation_request_task
from twiin.exchange.workflow.codes import ABORT, Role, TaskKind, task_kind
from twiin.exchange.workflow.core import Create, Operation, Read, Search, Versioned
from twiin.exchange.workflow.profiles import check_new
from twiin.exchange.workflow.sync import SyncCursor, SyncResult, advance
from twiin.exchange.workflow.versioned import Change, guarded, modify
from twiin.identifiers import Ura

__all__ = ["CancellationOutcome", "FulfillerCore"]

_ABORT_TOKEN = f"{naming.HL7_TASK_CODE_SYSTEM}|{ABORT}"
_UUID_SYSTEM = "urn:ietf:rfc:3986"


@attrs.frozen
class CancellationOutcome:
    """An accepted Cancellation Request and the Coordination Task it ended (``failed``)."""

    cancellation_request: Versioned
    task: Versioned


def _owner_token(task: Mapping[str, Any]) -> str | None:
    owner = task.get("owner")
    ident = owner.get("identifier") if isinstance(owner, Mapping) else None
    if not isinstance(ident, Mapping):
        return None
    return f"{ident.get('system')}|{ident.get('value')}"


def _reference(task: Mapping[str, Any], element: str, prefix: str) -> str:
    value = task.get(element)
    ref = value.get("reference") if isinstance(value, Mapping) else None
    if not isinstance(ref, str) or not ref.startswith(prefix):
        raise ExchangeError(f"Task.{element} is not a {prefix}<id> reference")
    return ref


@attrs.frozen
class FulfillerCore:
    """Fulfiller operations for one HealthcareService ``owner``; ``attempts`` bounds 412 re-application.

    Searches ask the Placer for ``owner:identifier`` (``requester:identifier`` for our own
    Authorization Cancellation Requests) and also keep only our Tasks locally, so a Placer that
    ignores the modifier never hands us someone else's Task. ``identifier_search=False`` leaves the
    modifier out for Placers that do not support it (the local filter still applies).
    """

    owner: AssignedId
    attempts: int = 3
    identifier_search: bool = True
    use_patch: bool = False

    @property
    def ura(self) -> Ura:
        """The Fulfiller organization's URA (the assigner of the HealthcareService identifier)."""
        return self.owner.assigner

    def is_mine(self, task: Mapping[str, Any]) -> bool:
        """True when ``task`` is owned by this HealthcareService (routing of notifications)."""
        return _owner_token(task) == self.owner.to_token()

    def _mine(self, change: Change) -> Change:
        def apply(task: dict[str, Any]) -> dict[str, Any]:
            if not self.is_mine(task):
                raise ExchangeError("this Task is owned by another HealthcareService")
            return change(task)

        return guarded(apply, Role.FULFILLER)

    def _modify(self, task: str | Versioned, change: Change) -> Operation[Versioned]:
        return modify(task, self._mine(change), attempts=self.attempts, use_patch=self.use_patch)

    # --- finding and reading ---------------------------------------------------------------

    def tasks(
        self,
        *,
        status: str | Sequence[str] | None = None,
        code: str | None = None,
        focus: str | None = None,
        params: Sequence[tuple[str, str]] = (),
    ) -> Operation[list[Versioned]]:
        """Search this owner's Tasks (``owner:identifier``), optionally by status, code token, focus."""
        query = self._owner_query()
        if status is not None:
            query.append(("status", status if isinstance(status, str) else ",".join(status)))
        if code is not None:
            query.append(("code", code))
        if focus is not None:
            query.append(("focus", focus))
        query.extend(params)
        found: list[Versioned] = yield Search("Task", tuple(query))
        return [t for t in found if self.is_mine(t.resource)]

    def _owner_query(self) -> list[tuple[str, str]]:
        return [("owner:identifier", self.owner.to_token())] if self.identifier_search else []

    def resynchronize(self, cursor: SyncCursor | None = None) -> Operation[SyncResult]:
        """Tasks of this owner changed since ``cursor`` (all on the first call), oldest first."""
        cursor = cursor or SyncCursor()
        query = [*self._owner_query(), *cursor.params(), ("_sort", "_lastUpdated")]
        found: list[Versioned] = yield Search("Task", tuple(query))
        result = advance(cursor, found)
        return SyncResult(tuple(t for t in result.changed if self.is_mine(t.resource)), result.cursor)

    def read(self, resource_type: str, resource_id: str) -> Operation[Versioned]:
        """Read any resource at the Placer (Task, ServiceRequest, Patient, supplemental resources)."""
        found: Versioned = yield Read(resource_type, resource_id)
        return found

    def cancellation_requests(self, *, status: str | None = "requested") -> Operation[list[Versioned]]:
        """Cancellation Request Tasks addressed to this owner (``code = abort``, ``intent = order``)."""
        params = [("intent", "order")]
        found: list[Versioned] = yield from self.tasks(status=status, code=_ABORT_TOKEN, params=params)
        return found

    # --- Coordination Task life cycle ---------------------------------------------------------

    def update_task(self, task: str | Versioned, change: Change) -> Operation[Versioned]:
        """Apply a caller-supplied ``change`` version-aware, re-applying it after a 412 (bounded)."""
        return self._modify(task, change)

    def receive(self, task: str | Versioned, *, at: datetime) -> Operation[Versioned]:
        """``requested`` -> ``received``."""
        return self._modify(task, lambda t: tr.receive(t, at=at))

    def accept(self, task: str | Versioned, *, at: datetime, bid: str | None = None) -> Operation[Versioned]:
        """Accept (and in the Multiple Fulfillers Pattern optionally bid)."""
        return self._modify(task, lambda t: tr.accept(t, at=at, bid=bid))

    def reject(self, task: str | Versioned, reason: str, *, at: datetime) -> Operation[Versioned]:
        """Reject with a reason text."""
        return self._modify(task, lambda t: tr.reject(t, reason, at=at))

    def start(self, task: str | Versioned, *, at: datetime) -> Operation[Versioned]:
        """Start work: only an accepted Task with code ``fulfill`` (never while bidding)."""
        return self._modify(task, lambda t: tr.start(t, at=at))

    def complete(
        self, task: str | Versioned, *, at: datetime, outputs: Sequence[Mapping[str, Any]] = ()
    ) -> Operation[Versioned]:
        """Complete started work, adding ``outputs``."""
        return self._modify(task, lambda t: tr.complete(t, at=at, outputs=outputs))

    def fail(self, task: str | Versioned, reason: str, *, at: datetime) -> Operation[Versioned]:
        """End started work as ``failed`` with a reason text."""
        return self._modify(task, lambda t: tr.fail(t, reason, at=at))

    # --- cancellation -----------------------------------------------------------------------------

    def accept_cancellation_request(
        self, crt: str | Versioned, *, at: datetime, reason: str = "stopped at the Placer's request"
    ) -> Operation[CancellationOutcome]:
        """Accept a Cancellation Request Task, then move its Coordination Task to ``failed``.

        The Coordination Task is checked first: when it is no longer ``in-progress`` nothing is
        sent and :class:`~twiin.errors.IllegalTransition` is raised (reject the request instead).
        """
        request = crt if isinstance(crt, Versioned) else (yield Read("Task", crt))
        if task_kind(request.resource) is not TaskKind.CANCELLATION_REQUEST:
            raise ExchangeError("not a Cancellation Request Task")
        focus_id = _reference(request.resource, "focus", "Task/").removeprefix("Task/")
        coordination: Versioned = yield Read("Task", focus_id)
        if coordination.status != "in-progress":
            raise IllegalTransition(
                str(coordination.status), "failed", "the work is not in progress any more"
            )
        accepted = yield from self._modify(request, lambda t: tr.accept_cancellation_request(t, at=at))
        task = yield from self._modify(
            coordination, lambda t: t if t.get("status") == "failed" else tr.fail(t, reason, at=at)
        )
        return CancellationOutcome(accepted, task)

    def reject_cancellation_request(
        self, crt: str | Versioned, reason: str, *, at: datetime
    ) -> Operation[Versioned]:
        """Refuse a Cancellation Request Task; the work continues."""
        return self._modify(crt, lambda t: tr.reject_cancellation_request(t, reason, at=at))

    def request_authorization_cancellation(
        self, task: str | Versioned, reason: str, *, at: datetime
    ) -> Operation[Versioned]:
        """Ask the Placer to withdraw the request behind Coordination Task ``task``.

        Creates an Authorization Cancellation Request Task (focus = the ServiceRequest, requester =
        our URA, owner = the Placer's URA); the conditional create makes a retry harmless.
        """
        current = task if isinstance(task, Versioned) else (yield Read("Task", task))
        if not self.is_mine(current.resource):
            raise ExchangeError("this Task is owned by another HealthcareService")
        requester = current.resource.get("requester")
        ident = requester.get("identifier") if isinstance(requester, Mapping) else None
        if not isinstance(ident, Mapping) or ident.get("system") != naming.URA_SYSTEM:
            raise ExchangeError("the Coordination Task names no Placer URA")
        value = f"urn:uuid:{uuid.uuid4()}"
        acrt = authorization_cancellation_request_task(
            service_request=_reference(current.resource, "focus", "ServiceRequest/"),
            requester=self.ura,
            placer=Ura(str(ident.get("value"))),
            reason_text=reason,
            authored_on=at,
            identifier_system=_UUID_SYSTEM,
            identifier_value=value,
        )
        check_new(acrt)
        created: Versioned = yield Create(acrt, f"identifier={_UUID_SYSTEM}|{value}")
        return created

    def authorization_cancellation_requests(self, *, focus: str | None = None) -> Operation[list[Versioned]]:
        """The Authorization Cancellation Request Tasks this organization created at the Placer."""
        query = [("intent", "proposal"), ("code", _ABORT_TOKEN)]
        if self.identifier_search:
            query.insert(0, ("requester:identifier", self.ura.to_token()))
        if focus is not None:
            query.append(("focus", focus))
        found: list[Versioned] = yield Search("Task", tuple(query))
        return [
            t
            for t in found
            if task_kind(t.resource) is TaskKind.AUTHORIZATION_CANCELLATION_REQUEST
            and Role.FULFILLER in roles_of(t.resource, self.ura)
        ]
