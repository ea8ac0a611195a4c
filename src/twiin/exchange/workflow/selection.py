"""Selecting one candidate in the Multiple Fulfillers Pattern, as a pure plan plus a transaction.

:func:`plan_selection` decides every change (the chosen Task selected, the ServiceRequest's
performer set, every other open candidate cancelled with ``not-selected``) and checks each with
the state machine; :func:`selection_bundle` turns the plan into one version-aware transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from twiin import naming
from twiin.errors import ExchangeError, FHIRError, IllegalTransition, PreconditionFailedError
from twiin.exchange.workflow import transitions as tr
from twiin.exchange.workflow.codes import REQUEST_FULFILLMENT, SELECTED, TaskKind, has_coding, task_kind
from twiin.exchange.workflow.core import Versioned
from twiin.exchange.workflow.profiles import check_changed

__all__ = ["SelectionPlan", "parse_transaction_response", "plan_selection", "selection_bundle"]

_OPEN = frozenset({"requested", "received", "accepted"})


@attrs.frozen
class SelectionPlan:
    """The changes of one selection, each paired with the version it was computed from.

    ``selected`` or ``service_request`` is ``None`` when that part is already done (a selection
    resumed after a partial failure on a server without atomic transactions).
    """

    selected: tuple[dict[str, Any], str | None] | None
    service_request: tuple[dict[str, Any], str | None] | None
    not_selected: tuple[tuple[dict[str, Any], str | None], ...]
    chosen_id: str

    def updates(self) -> list[tuple[dict[str, Any], str | None]]:
        """Every update still to send, the selected Task first."""
        first = [u for u in (self.selected, self.service_request) if u is not None]
        return [*first, *self.not_selected]


def _focus(task: Mapping[str, Any]) -> str | None:
    focus = task.get("focus")
    ref = focus.get("reference") if isinstance(focus, Mapping) else None
    return ref if isinstance(ref, str) else None


def _is_selected(task: Versioned) -> bool:
    return has_coding(task.resource.get("businessStatus"), naming.CS_TA_WORKFLOW, SELECTED)


def plan_selection(
    service_request: Versioned, candidates: Sequence[Versioned], chosen_id: str, *, at: datetime
) -> SelectionPlan:
    """Plan selecting Task ``chosen_id`` among ``candidates`` (the Coordination Tasks of the request).

    Refused with :class:`~twiin.errors.IllegalTransition` when another candidate is already
    selected, the chosen one is not an accepted ``request-fulfillment`` Task, or the request has
    another performer. Selecting the same candidate again only completes what is left undone.
    """
    sr = service_request.resource
    if sr.get("resourceType") != "ServiceRequest":
        raise ExchangeError("selection needs the ServiceRequest")
    sr_ref = f"ServiceRequest/{service_request.id}"
    subject = sr.get("subject")
    patient = subject.get("reference") if isinstance(subject, Mapping) else None
    if not isinstance(patient, str) or not patient.startswith("Patient/"):
        raise ExchangeError("the ServiceRequest has no Patient/<id> subject")
    tasks = [
        c
        for c in candidates
        if task_kind(c.resource) is TaskKind.COORDINATION and _focus(c.resource) == sr_ref
    ]
    chosen = [c for c in tasks if c.id == chosen_id]
    if not chosen:
        raise ExchangeError("the chosen Task is not a Coordination Task of this request")
    pick = chosen[0]
    if any(_is_selected(c) for c in tasks if c.id != chosen_id):
        raise IllegalTransition("selected", "selected", "exactly one candidate is selected per request")
    performer = [copy.deepcopy(pick.resource.get("owner"))]
    if sr.get("performer") not in (None, [], performer):
        raise IllegalTransition("performer set", "selected", "the request already has another performer")
    selected: tuple[dict[str, Any], str | None] | None = None
    if not _is_selected(pick):
        if not has_coding(pick.resource.get("code"), naming.CS_TA_WORKFLOW, REQUEST_FULFILLMENT):
            raise IllegalTransition(str(pick.status), "selected", "selection applies to Multiple Fulfillers")
        selected = (tr.select(pick.resource, patient, at=at), pick.version_id)
    request: tuple[dict[str, Any], str | None] | None = None
    if sr.get("performer") != performer:
        new_sr = copy.deepcopy(sr)
        new_sr["performer"] = performer
        request = (new_sr, service_request.version_id)
    others = tuple(
        (tr.mark_not_selected(c.resource, at=at), c.version_id)
        for c in tasks
        if c.id != chosen_id and c.status in _OPEN
    )
    plan = SelectionPlan(selected, request, others, chosen_id)
    originals = {c.reference: c.resource for c in [service_request, *tasks]}
    for resource, _ in plan.updates():
        check_changed(originals[f"{resource.get('resourceType')}/{resource.get('id')}"], resource)
    return plan


def selection_bundle(plan: SelectionPlan) -> dict[str, Any]:
    """One transaction Bundle of version-aware PUTs (``request.ifMatch``) for ``plan``."""
    entries = []
    for resource, version in plan.updates():
        if version is None:
            raise ExchangeError("no version known for a resource in the selection")
        ref = f"{resource['resourceType']}/{resource['id']}"
        entries.append(
            {
                "fullUrl": ref,
                "resource": resource,
                "request": {"method": "PUT", "url": ref, "ifMatch": f'W/"{version}"'},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _etag_version(etag: object) -> str | None:
    if not isinstance(etag, str) or not etag:
        return None
    return etag.removeprefix("W/").strip('"') or None


def _location_version(location: object) -> str | None:
    if not isinstance(location, str) or "/_history/" not in location:
        return None
    return location.split("/_history/", 1)[1].split("/")[0].split("?")[0] or None


def parse_transaction_response(
    response: Mapping[str, Any], submitted: Sequence[tuple[dict[str, Any], str | None]]
) -> list[Versioned]:
    """The resources a transaction response confirms, in submitted order.

    Any entry without a 2xx status fails the whole selection with a typed error.
    """
    entries = response.get("entry")
    if response.get("type") != "transaction-response" or not isinstance(entries, list):
        raise ExchangeError("the server did not answer with a transaction-response")
    if len(entries) != len(submitted):
        raise ExchangeError("the transaction-response does not match the request")
    out: list[Versioned] = []
    for entry, (resource, _) in zip(entries, submitted, strict=True):
        answer = entry.get("response") if isinstance(entry, Mapping) else None
        status = str(answer.get("status", "")) if isinstance(answer, Mapping) else ""
        code = int(status.split()[0]) if status[:3].isdigit() else 0
        if code == 412:
            raise PreconditionFailedError("a resource changed during the selection", status=412)
        if not 200 <= code < 300:
            raise FHIRError(f"transaction entry failed with status {status or 'unknown'}", status=code or 500)
        body = entry.get("resource")
        assert isinstance(answer, Mapping)
        version = _etag_version(answer.get("etag")) or _location_version(answer.get("location"))
        if isinstance(body, Mapping):
            out.append(Versioned.of(body, version))
            continue
        echoed = copy.deepcopy(resource)  # the server confirmed without echoing the resource
        meta = {k: v for k, v in (echoed.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
        if version is not None:
            meta["versionId"] = version
        echoed["meta"] = meta
        out.append(Versioned(echoed, version))
    return out
