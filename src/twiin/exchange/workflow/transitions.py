"""Pure Task changes for both roles: each takes a Task dict, returns the changed copy, and raises
:class:`~twiin.errors.IllegalTransition` (before anything is sent) when the role may not make it.

These are also the functions the facades re-apply after a 412: they read only the Task they get.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from twiin import naming
from twiin.errors import IllegalTransition
from twiin.exchange.workflow.access import ensure_allowed
from twiin.exchange.workflow.builders import fhir_datetime
from twiin.exchange.workflow.codes import FULFILL, NOT_SELECTED, SELECTED, Role, coding

__all__ = [
    "NOT_SELECTED_TEXT",
    "accept",
    "accept_authorization_cancellation",
    "accept_cancellation_request",
    "cancel",
    "complete",
    "enter_in_error",
    "fail",
    "mark_not_selected",
    "receive",
    "reject",
    "reject_authorization_cancellation",
    "reject_cancellation_request",
    "select",
    "start",
    "withdraw_cancellation_request",
]

#: The reserved ``statusReason.text`` of a not-selected candidate.
NOT_SELECTED_TEXT = "not selected"

Task = dict[str, Any]


def _reason(
    task: Mapping[str, Any], target: str, text: str, concept: Mapping[str, Any] | None
) -> dict[str, Any]:
    if not text:
        raise IllegalTransition(str(task.get("status")), target, "a reason text is required (twiin-task-1)")
    result = copy.deepcopy(dict(concept or {}))
    result["text"] = text
    if has_reserved(result):
        raise IllegalTransition(
            str(task.get("status")), target, "not-selected is reserved to the Placer's selection"
        )
    return result


def has_reserved(concept: Mapping[str, Any]) -> bool:
    """True when ``concept`` carries the reserved ``ta-workflow#not-selected`` coding."""
    codings = concept.get("coding") or []
    return any(
        isinstance(c, Mapping) and c.get("system") == naming.CS_TA_WORKFLOW and c.get("code") == NOT_SELECTED
        for c in codings
    )


def _change(task: Mapping[str, Any], role: Role, at: datetime, **elements: Any) -> Task:
    new = copy.deepcopy(dict(task))
    for name, value in elements.items():
        key = "for" if name == "for_" else name
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    new["lastModified"] = fhir_datetime(at)
    ensure_allowed(task, new, role)
    return new


# --- Fulfiller ---------------------------------------------------------------------------------


def receive(task: Mapping[str, Any], *, at: datetime) -> Task:
    """Fulfiller: acknowledge a requested Coordination Task (``received``)."""
    return _change(task, Role.FULFILLER, at, status="received")


def accept(task: Mapping[str, Any], *, at: datetime, bid: str | None = None, bid_label: str = "Bid") -> Task:
    """Fulfiller: accept a Coordination Task; in the Multiple Fulfillers Pattern optionally with a bid."""
    outputs = copy.deepcopy(list(task.get("output") or []))
    if bid is not None:
        outputs.append({"type": {"text": bid_label}, "valueString": bid})
    return _change(task, Role.FULFILLER, at, status="accepted", output=outputs or None)


def reject(
    task: Mapping[str, Any], reason: str, *, at: datetime, concept: Mapping[str, Any] | None = None
) -> Task:
    """Fulfiller: reject a Coordination Task, with a ``statusReason`` text (``twiin-ct-5``)."""
    return _change(
        task, Role.FULFILLER, at, status="rejected", statusReason=_reason(task, "rejected", reason, concept)
    )


def start(task: Mapping[str, Any], *, at: datetime) -> Task:
    """Fulfiller: start work (``in-progress``), only on an accepted Task whose code is ``fulfill``."""
    period = dict(task.get("executionPeriod") or {})
    period.setdefault("start", fhir_datetime(at))
    return _change(task, Role.FULFILLER, at, status="in-progress", executionPeriod=period)


def complete(task: Mapping[str, Any], *, at: datetime, outputs: Sequence[Mapping[str, Any]] = ()) -> Task:
    """Fulfiller: finish the work (``completed``), closing ``executionPeriod`` and adding outputs."""
    period = dict(task.get("executionPeriod") or {})
    period["end"] = fhir_datetime(at)
    merged = copy.deepcopy(list(task.get("output") or [])) + [copy.deepcopy(dict(o)) for o in outputs]
    return _change(
        task, Role.FULFILLER, at, status="completed", executionPeriod=period, output=merged or None
    )


def fail(
    task: Mapping[str, Any],
    reason: str,
    *,
    at: datetime,
    role: Role = Role.FULFILLER,
    concept: Mapping[str, Any] | None = None,
) -> Task:
    """End started work unsuccessfully (``failed``): the Fulfiller, or the Placer after an accepted
    Cancellation Request."""
    if role is Role.FULFILLER:
        period = dict(task.get("executionPeriod") or {})
        period["end"] = fhir_datetime(at)
        return _change(
            task,
            role,
            at,
            status="failed",
            statusReason=_reason(task, "failed", reason, concept),
            executionPeriod=period,
        )
    return _change(task, role, at, status="failed", statusReason=_reason(task, "failed", reason, concept))


def accept_cancellation_request(crt: Mapping[str, Any], *, at: datetime) -> Task:
    """Fulfiller: accept a Cancellation Request Task (the Coordination Task then goes to ``failed``)."""
    return _change(crt, Role.FULFILLER, at, status="accepted")


def reject_cancellation_request(crt: Mapping[str, Any], reason: str, *, at: datetime) -> Task:
    """Fulfiller: refuse a Cancellation Request Task; the work continues."""
    return _change(
        crt, Role.FULFILLER, at, status="rejected", statusReason=_reason(crt, "rejected", reason, None)
    )


# --- Placer ------------------------------------------------------------------------------------


def select(task: Mapping[str, Any], patient: str, *, at: datetime) -> Task:
    """Placer: select this accepted candidate: businessStatus ``selected``, code ``fulfill``, ``for``."""
    if not patient.startswith("Patient/"):
        raise IllegalTransition(str(task.get("status")), "selected", "for must be a Patient/<id> reference")
    return _change(
        task,
        Role.PLACER,
        at,
        businessStatus={"coding": [coding(naming.CS_TA_WORKFLOW, SELECTED, "Selected")]},
        code={"coding": [coding(naming.HL7_TASK_CODE_SYSTEM, FULFILL, "Fulfill the focal request")]},
        for_={"reference": patient},
    )


def mark_not_selected(task: Mapping[str, Any], *, at: datetime) -> Task:
    """Placer: cancel a candidate that was not selected (reserved reason ``not-selected``)."""
    reason = {
        "coding": [coding(naming.CS_TA_WORKFLOW, NOT_SELECTED, "Not selected")],
        "text": NOT_SELECTED_TEXT,
    }
    return _change(task, Role.PLACER, at, status="cancelled", statusReason=reason)


def cancel(
    task: Mapping[str, Any], reason: str, *, at: datetime, concept: Mapping[str, Any] | None = None
) -> Task:
    """Placer: cancel a Coordination Task before work started (or withdraw a requested CRT)."""
    return _change(
        task, Role.PLACER, at, status="cancelled", statusReason=_reason(task, "cancelled", reason, concept)
    )


def withdraw_cancellation_request(crt: Mapping[str, Any], reason: str, *, at: datetime) -> Task:
    """Placer: withdraw its own requested Cancellation Request Task (``cancelled``)."""
    return cancel(crt, reason, at=at)


def enter_in_error(task: Mapping[str, Any], reason: str, *, at: datetime) -> Task:
    """Placer: mark a Task as created in error."""
    return _change(
        task,
        Role.PLACER,
        at,
        status="entered-in-error",
        statusReason=_reason(task, "entered-in-error", reason, None),
    )


def accept_authorization_cancellation(
    acrt: Mapping[str, Any], *, at: datetime, reason: str | None = None
) -> Task:
    """Placer: accept a Fulfiller's Authorization Cancellation Request Task."""
    if reason is None:
        return _change(acrt, Role.PLACER, at, status="accepted")
    return _change(
        acrt, Role.PLACER, at, status="accepted", statusReason=_reason(acrt, "accepted", reason, None)
    )


def reject_authorization_cancellation(acrt: Mapping[str, Any], reason: str, *, at: datetime) -> Task:
    """Placer: refuse a Fulfiller's Authorization Cancellation Request Task, with a reason text."""
    return _change(
        acrt, Role.PLACER, at, status="rejected", statusReason=_reason(acrt, "rejected", reason, None)
    )
