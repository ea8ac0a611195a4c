"""Audit events for every workflow step sent to a Placer (a :data:`~.core.Observer`)."""

from __future__ import annotations

from typing import Any

from twiin.audit import Auditor, Outcome
from twiin.errors import NotAuthorizedError, TwiinError
from twiin.exchange.workflow.core import (
    Create,
    Observer,
    Patch,
    Read,
    Search,
    Step,
    Transaction,
    Update,
    Versioned,
)

__all__ = ["audit_observer"]


def _describe(step: Step, value: Any) -> tuple[str, str | None]:
    match step:
        case Read(resource_type, resource_id):
            return "workflow.read", f"{resource_type}/{resource_id}"
        case Create(resource, _):
            ref = value.reference if isinstance(value, Versioned) else str(resource.get("resourceType"))
            return "workflow.create", ref
        case Update(resource, _):
            return "workflow.update", f"{resource.get('resourceType')}/{resource.get('id')}"
        case Patch(resource_type, resource_id, _, _):
            return "workflow.patch", f"{resource_type}/{resource_id}"
        case Search(resource_type, _):
            return "workflow.search", resource_type
        case Transaction(_):
            return "workflow.transaction", "Bundle"
    return "workflow.step", None  # pragma: no cover


def audit_observer(auditor: Auditor, *, role: str) -> Observer:
    """An observer recording one audit event per step (search parameters are not recorded: they
    may identify a patient)."""

    def observe(step: Step, value: Any, error: TwiinError | None) -> None:
        action, resource = _describe(step, value)
        outcome: Outcome = "success"
        if isinstance(error, NotAuthorizedError):
            outcome = "denied"
        elif error is not None:
            outcome = "failure"
        detail = f"{role}: {type(error).__name__}" if error is not None else role
        auditor.record(action, outcome, resource=resource, detail=detail)

    return observe
