"""The Placer half of TA Workflow as sans-I/O operations (see :mod:`twiin.exchange.workflow.core`).

The Placer hosts the ServiceRequest, the Patient and every Coordination and Cancellation Request
Task. It creates the request with one Coordination Task per (candidate) Fulfiller, selects one
candidate in the Multiple Fulfillers Pattern, cancels, asks started work to stop, and answers the
Fulfillers' Authorization Cancellation Request Tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from twiin import naming
from twiin.errors import ExchangeError, IllegalTransition, PreconditionFailedError
from twiin.exchange.workflow import transitions as tr
from twiin.exchange.workflow.access import roles_of
from twiin.exchange.workflow.builders import AssignedId, Pattern, cancellation_request_task, coordination_task
from twiin.exchange.workflow.codes import ABORT, Role, TaskKind, task_kind
from twiin.exchange.workflow.core import Create, Operation, Read, Search, Transaction, Update, Versioned
from twiin.exchange.workflow.profiles import check_new
from twiin.exchange.workflow.selection import (
    SelectionPlan,
    parse_transaction_response,
    plan_selection,
    selection_bundle,
)
from twiin.exchange.workflow.versioned import Change, guarded, modify
from twiin.identifiers import Ura
from twiin.redaction import get_logger

__all__ = ["CreatedRequest", "Invitation", "PlacerCore", "Selection", "Withdrawal"]

log = get_logger(__name__)

_ABORT_TOKEN = f"{naming.HL7_TASK_CODE_SYSTEM}|{ABORT}"
_OPEN = frozenset({"requested", "received", "accepted"})


@attrs.frozen
class Invitation:
    """One (candidate) Fulfiller: its HealthcareService and optionally the Location of the work."""

    owner: AssignedId
    location: AssignedId | None = None


@attrs.frozen
class CreatedRequest:
    """A created ServiceRequest and its Coordination Tasks (in invitation order)."""

    service_request: Versioned
    tasks: tuple[Versioned, ...]
    pattern: Pattern


@attrs.frozen
class Selection:
    """The result of a selection: the chosen Task, the updated request, the cancelled candidates."""

    selected: Versioned
    service_request: Versioned
    not_selected: tuple[Versioned, ...]


@attrs.frozen
class Withdrawal:
    """An accepted Authorization Cancellation Request and what the Placer did about the request."""

    authorization_cancellation: Versioned
    service_request: Versioned | None
    cancelled: tuple[Versioned, ...]
    cancellation_requests: tuple[Versioned, ...]


def _identifier_token(resource: Mapping[str, Any]) -> str | None:
    idents = resource.get("identifier")
    if isinstance(idents, list) and idents and isinstance(idents[0], Mapping):
        system, value = idents[0].get("system"), idents[0].get("value")
        if isinstance(system, str) and isinstance(value, str):
            return f"identifier={system}|{value}"
    return None


def _with_performer(performer: Any) -> Change:
    def apply(request: dict[str, Any]) -> dict[str, Any]:
        if request.get("performer") not in (None, [], performer):
            raise IllegalTransition("performer set", "selected", "another candidate was selected meanwhile")
        return {**request, "performer": performer}

    return apply


def _not_selected(at: datetime) -> Change:
    def apply(task: dict[str, Any]) -> dict[str, Any]:
        return tr.mark_not_selected(task, at=at) if task.get("status") in _OPEN else task

    return apply


def _assemble(
    plan: SelectionPlan, sr: Versioned, current: dict[str, Versioned], done: list[Versioned]
) -> Selection:
    results = iter(done)
    selected = next(results) if plan.selected is not None else current[plan.chosen_id]
    request = next(results) if plan.service_request is not None else sr
    return Selection(selected, request, tuple(results))


@attrs.frozen
class PlacerCore:
    """Placer operations for organization ``ura``; Task identifiers use ``identifier_system``.

    ``identifier_search=False`` leaves ``owner:identifier`` out of searches for stores that do not
    support the modifier; results are always filtered locally as well.
    """

    ura: Ura
    identifier_system: str
    attempts: int = 3
    identifier_search: bool = True
    use_patch: bool = False

    def _modify(
        self, target: str | Versioned, change: Change, resource_type: str = "Task"
    ) -> Operation[Versioned]:
        checked = guarded(change, Role.PLACER) if resource_type == "Task" else change
        return modify(
            target, checked, attempts=self.attempts, resource_type=resource_type, use_patch=self.use_patch
        )

    # --- creating -----------------------------------------------------------------------------

    def create_request(
        self,
        service_request: Mapping[str, Any],
        invitations: Sequence[Invitation],
        *,
        type_of_work: Mapping[str, Any],
        at: datetime,
        pattern: Pattern | None = None,
        supplemental_resources: Sequence[str] = (),
        supplemental_queries: Sequence[str] = (),
        description: str | None = None,
    ) -> Operation[CreatedRequest]:
        """Create the ServiceRequest, then one Coordination Task per invitation.

        The pattern defaults to Single Fulfiller for one invitation and Multiple Fulfillers
        otherwise. Creates are conditional on the identifier, so a retried call creates nothing twice.
        """
        if not invitations:
            raise ExchangeError("at least one Fulfiller must be invited")
        chosen = pattern or (Pattern.SINGLE if len(invitations) == 1 else Pattern.MULTIPLE)
        if chosen is Pattern.SINGLE and len(invitations) != 1:
            raise ExchangeError("the Single Fulfiller Pattern invites exactly one Fulfiller")
        subject = service_request.get("subject")
        patient = subject.get("reference") if isinstance(subject, Mapping) else None
        if not isinstance(patient, str):
            raise ExchangeError("the ServiceRequest has no subject reference")
        tasks_to_build = [
            coordination_task(
                service_request="ServiceRequest/placeholder",
                requester=self.ura,
                owner=inv.owner,
                type_of_work=type_of_work,
                authored_on=at,
                identifier_system=self.identifier_system,
                pattern=chosen,
                patient=patient if chosen is Pattern.SINGLE else None,
                location=inv.location,
                supplemental_resources=supplemental_resources,
                supplemental_queries=supplemental_queries,
                description=description,
            )
            for inv in invitations
        ]
        check_new(service_request)
        for task in tasks_to_build:
            check_new(task)
        sr: Versioned = yield Create(dict(service_request), _identifier_token(service_request))
        created: list[Versioned] = []
        for task in tasks_to_build:
            task["focus"] = {"reference": f"ServiceRequest/{sr.id}"}
            made: Versioned = yield Create(task, _identifier_token(task))
            created.append(made)
        return CreatedRequest(sr, tuple(created), chosen)

    # --- reading --------------------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> Operation[Versioned]:
        """Read one resource."""
        found: Versioned = yield Read(resource_type, resource_id)
        return found

    def coordination_tasks(self, service_request_id: str) -> Operation[list[Versioned]]:
        """The Coordination Tasks of a request (``focus = ServiceRequest/<id>``)."""
        found: list[Versioned] = yield Search("Task", (("focus", f"ServiceRequest/{service_request_id}"),))
        return [t for t in found if task_kind(t.resource) is TaskKind.COORDINATION]

    # --- selection ------------------------------------------------------------------------------

    def select(
        self, service_request_id: str, task_id: str, *, at: datetime, atomic: bool = True
    ) -> Operation[Selection]:
        """Select candidate ``task_id`` and cancel the other open candidates with ``not-selected``.

        ``atomic`` sends one transaction of version-aware PUTs; otherwise the chosen Task is
        updated first (the commit point) and the rest follow with re-reads on conflict. On a
        412 the whole plan is re-read and re-computed, at most ``attempts`` times.
        """
        conflict: PreconditionFailedError | None = None
        for attempt in range(1, self.attempts + 1):
            sr: Versioned = yield Read("ServiceRequest", service_request_id)
            candidates = yield from self.coordination_tasks(service_request_id)
            plan = plan_selection(sr, candidates, task_id, at=at)
            current = {c.id: c for c in candidates}
            try:
                if atomic:
                    done: list[Versioned] = []
                    if plan.updates():
                        response: dict[str, Any] = yield Transaction(selection_bundle(plan))
                        done = parse_transaction_response(response, plan.updates())
                        for index, item in enumerate(done):
                            if item.version_id is None:  # no ETag or Location: read the new version
                                done[index] = yield Read(str(item.resource["resourceType"]), item.id)
                    return _assemble(plan, sr, current, done)
                selected = current[task_id] if plan.selected is None else (yield Update(*plan.selected))
            except PreconditionFailedError as exc:
                log.info("selection conflict (attempt %d of %d)", attempt, self.attempts)
                conflict = exc
                continue
            new_sr = sr
            if plan.service_request is not None:
                performer = plan.service_request[0]["performer"]
                new_sr = yield from self._modify(sr, _with_performer(performer), "ServiceRequest")
            cancelled = []
            for resource, _ in plan.not_selected:
                cancelled.append((yield from self._modify(current[resource["id"]], _not_selected(at))))
            return Selection(selected, new_sr, tuple(cancelled))
        assert conflict is not None
        raise conflict

    # --- cancelling --------------------------------------------------------------------------------

    def cancel(self, task: str | Versioned, reason: str, *, at: datetime) -> Operation[Versioned]:
        """Cancel a Coordination Task before work started (after that, use :meth:`request_cancellation`)."""
        return self._modify(task, lambda t: tr.cancel(t, reason, at=at))

    def update_task(self, task: str | Versioned, change: Change) -> Operation[Versioned]:
        """Apply a caller-supplied ``change`` as the Placer, version-aware with bounded 412 re-application."""
        return self._modify(task, change)

    def request_cancellation(
        self, task: str | Versioned, *, at: datetime, reason_text: str | None = None
    ) -> Operation[Versioned]:
        """Create a Cancellation Request Task for an ``in-progress`` Coordination Task.

        Any other status raises :class:`~twiin.errors.IllegalTransition` before anything is sent.
        """
        current = task if isinstance(task, Versioned) else (yield Read("Task", task))
        if task_kind(current.resource) is not TaskKind.COORDINATION:
            raise ExchangeError("a Cancellation Request focuses on a Coordination Task")
        crt = cancellation_request_task(
            current.resource,
            authored_on=at,
            identifier_system=self.identifier_system,
            requester=self.ura,
            reason_text=reason_text,
        )
        check_new(crt)
        created: Versioned = yield Create(crt, _identifier_token(crt))
        return created

    def withdraw_cancellation_request(
        self, crt: str | Versioned, reason: str, *, at: datetime
    ) -> Operation[Versioned]:
        """Withdraw a still requested Cancellation Request Task (``cancelled``)."""
        return self._modify(crt, lambda t: tr.withdraw_cancellation_request(t, reason, at=at))

    def finish_cancellation(
        self, crt: str | Versioned, *, at: datetime, reason: str = "stopped at the Placer's request"
    ) -> Operation[Versioned]:
        """After the Fulfiller accepted a Cancellation Request, make sure its Task is ``failed``."""
        request = crt if isinstance(crt, Versioned) else (yield Read("Task", crt))
        if request.status != "accepted":
            raise IllegalTransition(
                str(request.status), "failed", "the Cancellation Request was not accepted"
            )
        focus = request.resource.get("focus")
        ref = focus.get("reference") if isinstance(focus, Mapping) else None
        if not isinstance(ref, str) or not ref.startswith("Task/"):
            raise ExchangeError("the Cancellation Request has no Task focus")
        return (
            yield from self._modify(
                ref.removeprefix("Task/"),
                lambda t: t if t.get("status") == "failed" else tr.fail(t, reason, at=at, role=Role.PLACER),
            )
        )

    # --- Authorization Cancellation Requests ----------------------------------------------------------

    def authorization_cancellation_requests(
        self, *, status: str | None = "requested", params: Sequence[tuple[str, str]] = ()
    ) -> Operation[list[Versioned]]:
        """Authorization Cancellation Request Tasks addressed to this Placer."""
        query = [("intent", "proposal"), ("code", _ABORT_TOKEN)]
        if self.identifier_search:
            query.insert(0, ("owner:identifier", self.ura.to_token()))
        if status is not None:
            query.append(("status", status))
        query.extend(params)
        found: list[Versioned] = yield Search("Task", tuple(query))
        return [
            t
            for t in found
            if task_kind(t.resource) is TaskKind.AUTHORIZATION_CANCELLATION_REQUEST
            and Role.PLACER in roles_of(t.resource, self.ura)
        ]

    def reject_authorization_cancellation(
        self, acrt: str | Versioned, reason: str, *, at: datetime
    ) -> Operation[Versioned]:
        """Refuse a Fulfiller's request to withdraw the ServiceRequest."""
        return self._modify(acrt, lambda t: tr.reject_authorization_cancellation(t, reason, at=at))

    def accept_authorization_cancellation(
        self,
        acrt: str | Versioned,
        *,
        at: datetime,
        reason: str | None = None,
        withdraw: bool = True,
        cancel_reason: str = "request withdrawn by the Placer",
    ) -> Operation[Withdrawal]:
        """Accept a Fulfiller's Authorization Cancellation Request Task.

        With ``withdraw`` the ServiceRequest is revoked, open Coordination Tasks are cancelled and
        started ones get a Cancellation Request Task.
        """
        accepted = yield from self._modify(
            acrt, lambda t: tr.accept_authorization_cancellation(t, at=at, reason=reason)
        )
        if task_kind(accepted.resource) is not TaskKind.AUTHORIZATION_CANCELLATION_REQUEST:
            raise ExchangeError("not an Authorization Cancellation Request Task")
        if not withdraw:
            return Withdrawal(accepted, None, (), ())
        focus = accepted.resource.get("focus")
        ref = focus.get("reference") if isinstance(focus, Mapping) else None
        if not isinstance(ref, str) or not ref.startswith("ServiceRequest/"):
            raise ExchangeError("the Authorization Cancellation Request has no ServiceRequest focus")
        sr_id = ref.removeprefix("ServiceRequest/")
        sr = yield from self._modify(
            sr_id,
            lambda r: r if r.get("status") in ("revoked", "completed") else {**r, "status": "revoked"},
            "ServiceRequest",
        )
        cancelled: list[Versioned] = []
        requests: list[Versioned] = []
        for task in (yield from self.coordination_tasks(sr_id)):
            if task.status in _OPEN:
                cancelled.append((yield from self.cancel(task, cancel_reason, at=at)))
            elif task.status == "in-progress":
                requests.append(
                    (yield from self.request_cancellation(task, at=at, reason_text=cancel_reason))
                )
        return Withdrawal(accepted, sr, tuple(cancelled), tuple(requests))
