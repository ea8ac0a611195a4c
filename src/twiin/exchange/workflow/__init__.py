"""TA Workflow (FHIR R4): coordination between a Placer and one or more Fulfillers.

The Placer hosts the Workflow ServiceRequest and the Coordination Tasks; Fulfillers (each a
HealthcareService) read and update their Tasks at the Placer, version-aware. Both halves are
here, over one sans-I/O core:

* :class:`Placer` / :class:`AsyncPlacer`: create the request (single- or multiple-fulfillers
  pattern), select one candidate atomically, cancel, request cancellation of started work,
  answer Authorization Cancellation Requests.
* :class:`Fulfiller` / :class:`AsyncFulfiller`: find and resynchronise Tasks, accept, reject,
  bid, start, complete, fail, answer Cancellation Requests, ask for withdrawal of the request.
* The state machine (:mod:`.state`) and the element rules (:mod:`.access`) refuse illegal moves
  with :class:`~twiin.errors.IllegalTransition` before anything is sent; :func:`check_update` and
  :func:`check_create` are the same rules for a Placer FHIR server.
* Builders for every profile (:mod:`.builders`).
"""

from twiin.exchange.workflow import transitions
from twiin.exchange.workflow.access import (
    FULFILLER_WRITABLE,
    IMMUTABLE,
    AccessPolicy,
    Violation,
    check_change,
    check_create,
    check_update,
    ensure_allowed,
    roles_of,
)
from twiin.exchange.workflow.backends import AsyncFhirBackend, FhirBackend
from twiin.exchange.workflow.builders import (
    AssignedId,
    Pattern,
    authorization_cancellation_request_task,
    cancellation_request_task,
    coordination_task,
    service_request,
    workflow_subscription,
)
from twiin.exchange.workflow.codes import Role, TaskKind, task_kind
from twiin.exchange.workflow.core import AsyncBackend, Backend, Versioned, arun, run
from twiin.exchange.workflow.fulfiller import CancellationOutcome, FulfillerCore
from twiin.exchange.workflow.fulfiller_api import AsyncFulfiller, Fulfiller
from twiin.exchange.workflow.jsonpatch import JsonPatchError
from twiin.exchange.workflow.placer import CreatedRequest, Invitation, PlacerCore, Selection, Withdrawal
from twiin.exchange.workflow.placer_api import AsyncPlacer, Placer
from twiin.exchange.workflow.selection import SelectionPlan, plan_selection, selection_bundle
from twiin.exchange.workflow.server import guard_task_write, refusal
from twiin.exchange.workflow.state import TRANSITIONS, Transition, check_status, status_allowed, targets
from twiin.exchange.workflow.sync import SyncCursor, SyncResult
from twiin.exchange.workflow.versioned import Change, modify

__all__ = [
    "FULFILLER_WRITABLE",
    "IMMUTABLE",
    "TRANSITIONS",
    "AccessPolicy",
    "AssignedId",
    "AsyncBackend",
    "AsyncFhirBackend",
    "AsyncFulfiller",
    "AsyncPlacer",
    "Backend",
    "CancellationOutcome",
    "Change",
    "CreatedRequest",
    "FhirBackend",
    "Fulfiller",
    "FulfillerCore",
    "Invitation",
    "JsonPatchError",
    "Pattern",
    "Placer",
    "PlacerCore",
    "Role",
    "Selection",
    "SelectionPlan",
    "SyncCursor",
    "SyncResult",
    "TaskKind",
    "Transition",
    "Versioned",
    "Violation",
    "Withdrawal",
    "arun",
    "authorization_cancellation_request_task",
    "cancellation_request_task",
    "check_change",
    "check_create",
    "check_status",
    "check_update",
    "coordination_task",
    "ensure_allowed",
    "guard_task_write",
    "modify",
    "plan_selection",
    "refusal",
    "roles_of",
    "run",
    "selection_bundle",
    "service_request",
    "status_allowed",
    "targets",
    "task_kind",
    "transitions",
    "workflow_subscription",
]
