"""TA Workflow profile checks: Coordination, Cancellation Request and ACR Tasks, ServiceRequest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twiin import naming
from twiin.validation._fp import (
    children,
    descendants,
    equals,
    has_coding,
    implies,
    not_,
    or_,
    path,
)
from twiin.validation._report import Report

__all__ = [
    "check_authorization_cancellation_request_task",
    "check_cancellation_request_task",
    "check_coordination_task",
    "check_workflow_service_request",
]

TASK_STATUSES = frozenset(
    {
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    }
)
_CS = naming.CS_TA_WORKFLOW
_TASK_CODE = naming.HL7_TASK_CODE_SYSTEM
_ASSIGNER_SYSTEMS = frozenset({naming.URA_OID_URN, naming.KVK_GF_SYSTEM})


def check_coordination_task(task: Mapping[str, Any], r: Report) -> None:
    """Twiin Coordination Task: ct-1..6, task-1, aid-1 and the profile's fixed values."""
    status = path(task, "status")

    def is_(code: str) -> bool | None:
        return equals(status, code)

    r.invariant("twiin-ct-1", not_(or_(is_("draft"), is_("ready"), is_("on-hold"))), "Task")
    reasons = path(task, "statusReason")
    r.invariant("twiin-ct-2", implies(has_coding(reasons, _CS, "not-selected"), is_("cancelled")), "Task")
    code = path(task, "code")
    selected = has_coding(path(task, "businessStatus"), _CS, "selected")
    fulfil = has_coding(code, _TASK_CODE, "fulfill") and bool(path(task, "for"))
    r.invariant("twiin-ct-3", implies(selected, fulfil), "Task")
    bidding = has_coding(code, _CS, "request-fulfillment")
    r.invariant("twiin-ct-4", implies(bidding, not path(task, "for")), "Task")
    r.invariant("twiin-ct-5", implies(or_(is_("rejected"), is_("cancelled")), bool(reasons)), "Task")
    for ident in path(task, "for", "identifier"):
        system = path(ident, "system")
        r.invariant("twiin-ct-6", not_(equals(system, naming.BSN_SYSTEM)), "Task.for.identifier")
    _task_1(task, r)

    _base_task(task, r)
    r.fixed("Task.intent", task.get("intent"), "order")
    codes = r.required(task, "Task", "code")
    if codes and not (
        has_coding(codes, _TASK_CODE, "fulfill") or has_coding(codes, _CS, "request-fulfillment")
    ):
        r.add(
            "binding",
            "Task.code",
            f"Task.code: not in the required value set {naming.VS_TA_WORKFLOW_TASK_CODE} "
            f"(task-code#fulfill, ta-workflow#request-fulfillment) of the profile {r.profile}",
        )
    r.cardinality("Task.identifier", path(task, "identifier"), 1, None)
    for focus in r.required(task, "Task", "focus"):
        _reference_type(focus, "ServiceRequest", "Task.focus", r)
    r.required(task, "Task", "authoredOn")
    _requester_ura(task, r)
    _owner_healthcare_service(task, r)
    _location(task, r)
    _inputs(task, r, supplemental=True)


def check_cancellation_request_task(task: Mapping[str, Any], r: Report) -> None:
    """Twiin Cancellation Request Task: crt-1, task-1, aid-1 and the fixed values."""
    status = path(task, "status")
    allowed = ("requested", "accepted", "rejected", "cancelled", "entered-in-error")
    r.invariant("twiin-crt-1", or_(*(equals(status, s) for s in allowed)), "Task")
    _task_1(task, r)
    _base_task(task, r)
    r.fixed("Task.intent", task.get("intent"), "order")
    _code_abort(task, r)
    for focus in r.required(task, "Task", "focus"):
        _reference_type(focus, "Task", "Task.focus", r)
    _owner_healthcare_service(task, r)
    _location(task, r)
    _inputs(task, r, supplemental=False)


def check_authorization_cancellation_request_task(task: Mapping[str, Any], r: Report) -> None:
    """Twiin Authorization Cancellation Request Task: acrt-1, task-1, URA requester and owner."""
    status = path(task, "status")
    allowed = ("requested", "accepted", "rejected")
    r.invariant("twiin-acrt-1", or_(*(equals(status, s) for s in allowed)), "Task")
    _task_1(task, r)
    _base_task(task, r)
    r.fixed("Task.intent", task.get("intent"), "proposal")
    _code_abort(task, r)
    for focus in r.required(task, "Task", "focus"):
        _reference_type(focus, "ServiceRequest", "Task.focus", r)
    _requester_ura(task, r)
    for owner in r.required(task, "Task", "owner"):
        for ident in r.required(owner, "Task.owner", "identifier"):
            for system in r.required(ident, "Task.owner.identifier", "system"):
                r.fixed("Task.owner.identifier.system", system, naming.URA_SYSTEM)


def check_workflow_service_request(request: Mapping[str, Any], r: Report) -> None:
    """Twiin Workflow ServiceRequest: sr-1, subject only Patient, instantiatesCanonical 1..*."""
    for subject in path(request, "subject"):
        masked = any(
            isinstance(node, dict) and node.get("url") == naming.DATA_ABSENT_REASON
            for node in descendants(subject)
        )
        r.invariant("twiin-sr-1", not masked, "ServiceRequest.subject")
        _reference_type(subject, "Patient", "ServiceRequest.subject", r)
    r.required(request, "ServiceRequest", "subject")
    r.required(request, "ServiceRequest", "status")
    r.required(request, "ServiceRequest", "intent")
    r.cardinality("ServiceRequest.instantiatesCanonical", path(request, "instantiatesCanonical"), 1, None)


# --- shared rules ---------------------------------------------------------------------------


def _task_1(task: Mapping[str, Any], r: Report) -> None:
    reasons = path(task, "statusReason")
    r.invariant("twiin-task-1", implies(bool(reasons), bool(children(reasons, "text"))), "Task")


def _base_task(task: Mapping[str, Any], r: Report) -> None:
    for status in r.required(task, "Task", "status"):
        r.binding("Task.status", status, TASK_STATUSES, "http://hl7.org/fhir/ValueSet/task-status")
    r.required(task, "Task", "intent")


def _code_abort(task: Mapping[str, Any], r: Report) -> None:
    codes = r.required(task, "Task", "code")
    if codes and not has_coding(codes, _TASK_CODE, "abort"):
        r.add(
            "fixed-value",
            "Task.code",
            f"Task.code: value is fixed to '{_TASK_CODE}#abort' in the profile {r.profile}",
        )


def _requester_ura(task: Mapping[str, Any], r: Report) -> None:
    for requester in r.required(task, "Task", "requester"):
        for ident in r.required(requester, "Task.requester", "identifier"):
            for system in r.required(ident, "Task.requester.identifier", "system"):
                r.fixed("Task.requester.identifier.system", system, naming.URA_SYSTEM)


def _owner_healthcare_service(task: Mapping[str, Any], r: Report) -> None:
    for owner in r.required(task, "Task", "owner"):
        for kind in r.required(owner, "Task.owner", "type"):
            r.fixed("Task.owner.type", kind, "HealthcareService")
        _reference_type(owner, "HealthcareService", "Task.owner", r)
        for ident in r.required(owner, "Task.owner", "identifier"):
            _assigned_identifier(ident, "Task.owner.identifier", r)


def _location(task: Mapping[str, Any], r: Report) -> None:
    for location in path(task, "location"):
        _reference_type(location, "Location", "Task.location", r)
        for ident in r.required(location, "Task.location", "identifier"):
            _assigned_identifier(ident, "Task.location.identifier", r)


def _assigned_identifier(ident: Any, where: str, r: Report) -> None:
    """GF custodian-assigned identifier (nl-gf-custodianassignedidentifier) plus twiin-aid-1."""
    assigner_ids = path(ident, "assigner", "identifier")
    kvk = [i for i in assigner_ids if isinstance(i, dict) and i.get("system") == naming.KVK_GF_SYSTEM]
    r.invariant("twiin-aid-1", not kvk, where)
    for use in r.required(ident, where, "use"):
        r.fixed(f"{where}.use", use, "official")
    r.required(ident, where, "system")
    r.required(ident, where, "value")
    for assigner in r.required(ident, where, "assigner"):
        for aid in r.required(assigner, f"{where}.assigner", "identifier"):
            apath = f"{where}.assigner.identifier"
            for system in r.required(aid, apath, "system"):
                if not isinstance(system, str) or system not in _ASSIGNER_SYSTEMS:
                    r.add(
                        "assigner-identifier-system",
                        f"{apath}.system",
                        f"{apath}.system: the assigner must be a URA ({naming.URA_OID_URN}) "
                        f"or KvK ({naming.KVK_GF_SYSTEM}) identifier",
                    )
            r.required(aid, apath, "value")
            for kind in r.required(aid, apath, "type"):
                codings = r.required(kind, f"{apath}.type", "coding")
                if codings and not has_coding([kind], naming.PROVENANCE_PARTICIPANT_TYPE, "custodian"):
                    r.add(
                        "fixed-value",
                        f"{apath}.type",
                        f"{apath}.type: must be {naming.PROVENANCE_PARTICIPANT_TYPE}#custodian "
                        f"in the profile {naming.GF_CUSTODIAN_ASSIGNED_IDENTIFIER}",
                    )


def _inputs(task: Mapping[str, Any], r: Report, *, supplemental: bool) -> None:
    """The sliced ``Task.input``: typeOfWork 1..1 and the supplemental slices."""
    inputs = path(task, "input")
    slices = {"type-of-work": ("valueCodeableConcept", "CodeableConcept")}
    if supplemental:
        slices["supplemental-resource"] = ("valueReference", "Reference")
        slices["supplemental-query"] = ("valueString", "string")
    type_of_work = 0
    for index, item in enumerate(inputs):
        for code, (key, type_name) in slices.items():
            if not has_coding(path(item, "type"), _CS, code):
                continue
            type_of_work += code == "type-of-work"
            if not isinstance(item, dict) or key not in item:
                r.add(
                    "type",
                    f"Task.input[{index}].value",
                    f"Task.input[{index}]: the {code} input takes a {type_name} value "
                    f"in the profile {r.profile}",
                )
    if type_of_work != 1:
        r.add(
            "cardinality",
            "Task.input:typeOfWork",
            f"Task.input:typeOfWork: found {type_of_work} but the profile {r.profile} requires 1..1",
        )


def _reference_type(ref: Any, expected: str, where: str, r: Report) -> None:
    """``only Reference(expected)``: check ``type`` and a literal ``reference``'s resource type."""
    if not isinstance(ref, dict):
        return
    found: str | None = None
    kind = ref.get("type")
    if isinstance(kind, str) and kind != expected:
        found = kind
    reference = ref.get("reference")
    if isinstance(reference, str) and not reference.startswith(("#", "urn:")):
        segments = reference.split("?")[0].rstrip("/").split("/")
        if "_history" in segments:
            segments = segments[: segments.index("_history")]
        if len(segments) >= 2 and segments[-2] != expected:
            found = segments[-2]
    if found is not None:
        r.add("type", where, f"{where}: must reference a {expected}, not a {found[:40]}")
