"""TA Workflow codes, roles, Task kinds and small readers for Task dicts.

Everything here works on FHIR R4 resources as JSON-ready dicts (the raw form that travels on the
wire); :func:`as_dict` turns a ``fhir.resources`` model into that form.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from twiin import naming
from twiin.errors import ExchangeError

__all__ = [
    "ABORT",
    "FULFILL",
    "NOT_SELECTED",
    "REQUEST_FULFILLMENT",
    "SELECTED",
    "SUPPLEMENTAL_QUERY",
    "SUPPLEMENTAL_RESOURCE",
    "TYPE_OF_WORK",
    "Role",
    "TaskKind",
    "as_dict",
    "coding",
    "has_coding",
    "task_kind",
]

#: ``ta-workflow#request-fulfillment``: Multiple Fulfillers Pattern, no candidate selected yet.
REQUEST_FULFILLMENT = "request-fulfillment"
#: ``ta-workflow#selected`` (businessStatus): the Placer selected this Task's owner.
SELECTED = "selected"
#: ``ta-workflow#not-selected`` (statusReason): reserved to the Placer, only with ``cancelled``.
NOT_SELECTED = "not-selected"
#: ``ta-workflow#type-of-work`` (input type).
TYPE_OF_WORK = "type-of-work"
#: ``ta-workflow#supplemental-resource`` (input type, valueReference).
SUPPLEMENTAL_RESOURCE = "supplemental-resource"
#: ``ta-workflow#supplemental-query`` (input type, valueString relative to the Placer base).
SUPPLEMENTAL_QUERY = "supplemental-query"
#: ``task-code#fulfill``: the owner is (or has been selected as) the Fulfiller.
FULFILL = "fulfill"
#: ``task-code#abort``: Cancellation Request and Authorization Cancellation Request Tasks.
ABORT = "abort"


class Role(enum.StrEnum):
    """The two parties of TA Workflow."""

    PLACER = "placer"
    FULFILLER = "fulfiller"


class TaskKind(enum.StrEnum):
    """The three Task profiles of TA Workflow, with their canonical as value."""

    COORDINATION = naming.SD_COORDINATION_TASK
    CANCELLATION_REQUEST = naming.SD_CANCELLATION_REQUEST_TASK
    AUTHORIZATION_CANCELLATION_REQUEST = naming.SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK


def as_dict(resource: Any) -> dict[str, Any]:
    """A resource as a JSON-ready dict (``fhir.resources`` models are dumped, dicts copied)."""
    if isinstance(resource, Mapping):
        return dict(resource)
    dump = getattr(resource, "model_dump", None)
    if dump is None:
        raise ExchangeError(f"not a FHIR resource: {type(resource).__name__}")
    result: dict[str, Any] = dump(mode="json", by_alias=True, exclude_none=True)
    return result


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    """A FHIR ``Coding`` dict."""
    result = {"system": system, "code": code}
    if display is not None:
        result["display"] = display
    return result


def has_coding(concept: Any, system: str, code: str) -> bool:
    """True when the CodeableConcept dict ``concept`` carries ``system#code``."""
    if not isinstance(concept, Mapping):
        return False
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return False
    return any(
        isinstance(c, Mapping) and c.get("system") == system and c.get("code") == code for c in codings
    )


def task_kind(task: Mapping[str, Any]) -> TaskKind:
    """Which TA Workflow Task this is: from ``meta.profile``, else from ``code`` and ``intent``.

    Raises :class:`~twiin.errors.ExchangeError` when the Task is none of the three.
    """
    meta = task.get("meta")
    profiles = meta.get("profile") if isinstance(meta, Mapping) else None
    if isinstance(profiles, list):
        for kind in TaskKind:
            if kind.value in profiles:
                return kind
    code = task.get("code")
    if has_coding(code, naming.HL7_TASK_CODE_SYSTEM, ABORT):
        if task.get("intent") == "proposal":
            return TaskKind.AUTHORIZATION_CANCELLATION_REQUEST
        return TaskKind.CANCELLATION_REQUEST
    if has_coding(code, naming.HL7_TASK_CODE_SYSTEM, FULFILL) or has_coding(
        code, naming.CS_TA_WORKFLOW, REQUEST_FULFILLMENT
    ):
        return TaskKind.COORDINATION
    raise ExchangeError("not a TA Workflow Task (no known profile or code)")
