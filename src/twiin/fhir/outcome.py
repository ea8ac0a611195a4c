"""OperationOutcome handling and the mapping of non-2xx FHIR answers onto twiin errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from twiin._http import parse_retry_after
from twiin._http.compat import httpx
from twiin.errors import (
    ConflictError,
    FHIRError,
    ModelValidationError,
    NotAuthorizedError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    TwiinError,
    UnprocessableError,
    redact_url,
)
from twiin.fhir.content import is_xml, load_json, parse_resource, to_dict, xml_to_dict
from twiin.fhir_version import FhirVersion
from twiin.redaction import redact

__all__ = ["OutcomeIssue", "error_for_response", "issues_of", "operation_outcome_of"]

_DIAGNOSTICS_SHOWN = 200


@attrs.frozen
class OutcomeIssue:
    """One ``OperationOutcome.issue``: severity, code, diagnostics (or details.text), expression."""

    severity: str
    code: str
    diagnostics: str | None = None
    expression: tuple[str, ...] = ()


def _body_dict(body: bytes, content_type: str | None, version: FhirVersion) -> dict[str, Any] | None:
    if not body.strip():
        return None
    try:
        if is_xml(content_type, body):
            return xml_to_dict(body, version)
        return load_json(body)
    except TwiinError:
        return None


def operation_outcome_of(source: Any, version: FhirVersion = FhirVersion.R4) -> Any:
    """The OperationOutcome carried by ``source``, as a model, or None.

    ``source`` may be an ``httpx.Response``, a :class:`~twiin.errors.FHIRError`, a
    :class:`~twiin.fhir.FhirResult`, raw bytes, a dict or a model. A body that is an
    OperationOutcome the model cannot validate is returned as its dict.
    """
    if isinstance(source, FHIRError | NotAuthorizedError):
        return getattr(source, "operation_outcome", None)
    data: Any = source
    if isinstance(source, httpx.Response):
        data = _body_dict(source.content, source.headers.get("content-type"), version)
    elif hasattr(source, "raw") and hasattr(source, "headers") and hasattr(source, "status"):
        data = _body_dict(source.raw, source.headers.get("content-type"), version)
    elif isinstance(source, bytes | str):
        raw = source.encode("utf-8") if isinstance(source, str) else source
        data = _body_dict(raw, None, version)
    if data is None:
        return None
    if not isinstance(data, Mapping):
        return data if getattr(data, "get_resource_type", lambda: None)() == "OperationOutcome" else None
    if data.get("resourceType") != "OperationOutcome":
        return None
    try:
        return parse_resource(data, version)
    except ModelValidationError:
        return dict(data)


def issues_of(outcome: Any) -> list[OutcomeIssue]:
    """The issues of an OperationOutcome (model or dict) as plain values."""
    if outcome is None:
        return []
    data = outcome if isinstance(outcome, Mapping) else to_dict(outcome)
    issues: list[OutcomeIssue] = []
    raw_issues = data.get("issue")
    for item in raw_issues if isinstance(raw_issues, Sequence) else ():
        if not isinstance(item, Mapping):
            continue
        details = item.get("details")
        text = item.get("diagnostics")
        if text is None and isinstance(details, Mapping):
            text = details.get("text")
        expression = item.get("expression") or item.get("location") or ()
        issues.append(
            OutcomeIssue(
                severity=str(item.get("severity", "")),
                code=str(item.get("code", "")),
                diagnostics=str(text) if text is not None else None,
                expression=tuple(str(e) for e in expression) if isinstance(expression, list) else (),
            )
        )
    return issues


def _summary(issues: list[OutcomeIssue]) -> str:
    for issue in issues:
        if issue.severity in ("error", "fatal") or issue is issues[-1]:
            text = f"{issue.code}"
            if issue.diagnostics:
                diagnostics = issue.diagnostics
                if len(diagnostics) > _DIAGNOSTICS_SHOWN:
                    diagnostics = diagnostics[:_DIAGNOSTICS_SHOWN] + "..."
                text += f": {diagnostics}"
            return redact(text)
    return ""


def error_for_response(response: httpx.Response, version: FhirVersion = FhirVersion.R4) -> TwiinError:
    """The twiin error for a non-2xx FHIR response (URL redacted, OperationOutcome parsed).

    404/410 -> NotFoundError, 409 -> ConflictError, 412 -> PreconditionFailedError,
    422 -> UnprocessableError, 429 -> RateLimitedError, 5xx -> ServerError, 401/403 ->
    :class:`~twiin.errors.NotAuthorizedError`, any other status -> FHIRError.
    """
    status = response.status_code
    request = response.request
    method = request.method
    url = redact_url(request.url)
    outcome = operation_outcome_of(response, version)
    summary = _summary(issues_of(outcome))
    message = f"{method} {url} -> {status}" + (f" ({summary})" if summary else "")
    headers = dict(response.headers)
    if status in (401, 403):
        auth_error = NotAuthorizedError(status, message, url=request.url)
        auth_error.operation_outcome = outcome  # type: ignore[attr-defined]
        auth_error.headers = headers  # type: ignore[attr-defined]
        return auth_error
    kwargs: dict[str, Any] = {
        "status": status,
        "method": method,
        "url": request.url,
        "headers": headers,
        "operation_outcome": outcome,
    }
    if status in (404, 410):
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status == 412:
        return PreconditionFailedError(message, **kwargs)
    if status == 422:
        return UnprocessableError(message, **kwargs)
    if status == 429:
        return RateLimitedError(
            message, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs
        )
    if status >= 500:
        return ServerError(message, **kwargs)
    return FHIRError(message, **kwargs)
