"""Server-side block for a Placer FHIR server: vet a Task write before it reaches the store.

The vendor's server authenticates the caller (mTLS + token) to a URA, looks up the stored Task,
and asks :func:`guard_task_write` whether the write may proceed. ``None`` means go ahead;
otherwise the returned :class:`~twiin.serving.Answer` is the refusal to send. For ``PATCH`` the
JSON Patch is applied to the stored Task (:func:`~.jsonpatch.apply`) and the result vetted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from twiin.errors import ModelValidationError, UnsafeXML
from twiin.exchange.workflow.access import AccessPolicy, Violation, check_create, check_update
from twiin.exchange.workflow.jsonpatch import JsonPatchError, apply
from twiin.fhir.content import is_xml, xml_to_dict
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.serving import Answer, IncomingRequest
from twiin.validation import errors_only, validate

__all__ = ["MAX_TASK_BYTES", "guard_task_write", "refusal"]

MAX_TASK_BYTES = 1024 * 1024
"""The largest Task (or JSON Patch) body vetted; a larger one is refused with 413 unread."""


def _version(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    value = meta.get("versionId") if isinstance(meta, Mapping) else None
    return value if isinstance(value, str) else None


def refusal(violations: list[Violation]) -> Answer:
    """403 when the caller is no party to the Task, else 422 listing every broken rule."""
    status, code = (
        (403, "forbidden") if any(v.key == "wf-not-party" for v in violations) else (422, "business-rule")
    )
    issues = [
        {"severity": "error", "code": code, "diagnostics": f"{v.key}: {v.message}", "expression": [v.path]}
        for v in violations
    ]
    return Answer.fhir(status, {"resourceType": "OperationOutcome", "issue": issues})


def guard_task_write(
    request: IncomingRequest,
    *,
    stored: Mapping[str, Any] | None,
    requester_ura: Ura,
    placer_ura: Ura,
    require_if_match: bool = True,
    policy: AccessPolicy | None = None,
) -> Answer | None:
    """Vet ``POST [base]/Task`` or ``PUT``/``PATCH [base]/Task/<id>`` by ``requester_ura`` at this Placer.

    PUT and PATCH need an existing Task (``stored``) and, unless ``require_if_match`` is off, an
    ``If-Match`` naming its current version (428 without, 412 when stale). Both need a body that
    keeps to the Twiin profile (422) and to the workflow rules (403/422).
    """
    method = request.method.upper()
    if method not in ("POST", "PUT", "PATCH"):
        return Answer.outcome(405, "not-supported", "only POST, PUT and PATCH are vetted here")
    if len(request.body) > MAX_TASK_BYTES:
        return Answer.outcome(413, "too-costly", f"a Task body is at most {MAX_TASK_BYTES} bytes")
    if method != "PATCH" and is_xml(request.content_type, request.body):
        try:
            body = xml_to_dict(request.body, FhirVersion.R4)  # hardened: no DTD, entities or network
        except (ModelValidationError, UnsafeXML) as exc:
            return Answer.outcome(400, "structure", f"body is not a readable FHIR XML Task: {exc.message}")
    else:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return Answer.outcome(400, "structure", "body is not valid JSON")
    if method == "PATCH":
        if stored is None:
            return Answer.outcome(404, "not-found", "no such Task")
        try:
            body = apply(stored, body)
        except JsonPatchError as exc:
            return Answer.outcome(422, "processing", exc.message)
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        return Answer.outcome(400, "invalid", "body is not a Task")
    kwargs: dict[str, Any] = {"placer_ura": placer_ura}
    if policy is not None:
        kwargs["policy"] = policy
    if method == "POST":
        violations = check_create(body, requester_ura, **kwargs)
    else:
        if stored is None:
            return Answer.outcome(404, "not-found", "no such Task (update-as-create is not offered)")
        match = request.headers.get("if-match")
        if match is None and require_if_match:
            return Answer.outcome(428, "business-rule", "a Task update must carry If-Match")
        if match is not None and match.removeprefix("W/").strip('"') != _version(stored):
            return Answer.outcome(412, "conflict", "the Task changed since it was read")
        violations = check_update(stored, body, requester_ura, **kwargs)
    if violations:
        return refusal(violations)
    errors = errors_only(validate(body))
    if errors:
        issues = [
            {"severity": "error", "code": "invariant", "diagnostics": str(i), "expression": [i.path]}
            for i in errors
        ]
        return Answer.fhir(422, {"resourceType": "OperationOutcome", "issue": issues})
    return None
