"""``validate()``: run the Twiin profile checks that apply to a resource."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from twiin import naming
from twiin.errors import ConfigurationError, ModelValidationError
from twiin.validation._issues import ValidationIssue
from twiin.validation._report import Report
from twiin.validation.notifications import (
    check_notification_bundle,
    check_subscription,
    check_subscription_status,
    check_workflow_subscription,
)
from twiin.validation.workflow import (
    check_authorization_cancellation_request_task,
    check_cancellation_request_task,
    check_coordination_task,
    check_workflow_service_request,
)

__all__ = ["PROFILES", "as_json", "declared_profiles", "validate"]

Check = Callable[[Mapping[str, Any], Report], None]

PROFILES: dict[str, tuple[str, tuple[Check, ...]]] = {
    naming.SD_COORDINATION_TASK: ("Task", (check_coordination_task,)),
    naming.SD_CANCELLATION_REQUEST_TASK: ("Task", (check_cancellation_request_task,)),
    naming.SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK: (
        "Task",
        (check_authorization_cancellation_request_task,),
    ),
    naming.SD_WORKFLOW_SERVICE_REQUEST: ("ServiceRequest", (check_workflow_service_request,)),
    naming.SD_WORKFLOW_SUBSCRIPTION: ("Subscription", (check_subscription, check_workflow_subscription)),
    naming.SD_TWIIN_SUBSCRIPTION: ("Subscription", (check_subscription,)),
    naming.SD_TWIIN_SUBSCRIPTION_STATUS: ("Parameters", (check_subscription_status,)),
    naming.SD_TWIIN_NOTIFICATION: ("Bundle", (check_notification_bundle,)),
}
"""Every Twiin profile this package checks: canonical -> (resource type, checks)."""


def as_json(resource: Any) -> Mapping[str, Any]:
    """FHIR JSON (a mapping) for a dict or a ``fhir.resources`` model."""
    if isinstance(resource, dict):
        return resource
    if isinstance(resource, Mapping):
        copied: dict[str, Any] = json.loads(json.dumps(resource, default=dict))
        return copied
    dump = getattr(resource, "model_dump_json", None)
    if callable(dump):
        loaded = json.loads(dump())
        if isinstance(loaded, dict):
            return loaded
    raise ModelValidationError(f"not a FHIR resource: {type(resource).__name__}")


def declared_profiles(resource: Mapping[str, Any]) -> list[str]:
    """The Twiin profiles in ``meta.profile`` (version suffixes ``|x.y`` dropped), in order."""
    meta = resource.get("meta")
    declared = meta.get("profile") if isinstance(meta, Mapping) else None
    if not isinstance(declared, list):
        return []
    found: list[str] = []
    for item in declared:
        if isinstance(item, str):
            url = item.split("|", 1)[0]
            if url in PROFILES and url not in found:
                found.append(url)
    return found


def validate(resource: Any, profile: str | None = None) -> list[ValidationIssue]:
    """Check ``resource`` against a Twiin profile and return every issue found.

    ``profile`` defaults to the Twiin profiles named in ``meta.profile``; a resource that
    claims none gets no issues. ``resource`` is FHIR JSON (a dict) or a ``fhir.resources``
    R4B model. Use :func:`has_errors` / :func:`raise_for_errors` on the result.
    """
    data = as_json(resource)
    if profile is not None:
        url = profile.split("|", 1)[0]
        if url not in PROFILES:
            raise ConfigurationError("profile", f"unknown Twiin profile {url!r}")
        targets = [url]
    else:
        targets = declared_profiles(data)
    issues: list[ValidationIssue] = []
    for url in targets:
        issues.extend(_run(data, url))
    return issues


def _run(data: Mapping[str, Any], url: str) -> list[ValidationIssue]:
    resource_type, checks = PROFILES[url]
    report = Report(url)
    actual = data.get("resourceType")
    if actual != resource_type:
        shown = actual if isinstance(actual, str) and len(actual) < 64 else "?"
        report.add(
            "resource-type",
            resource_type,
            f"the profile {url} applies to {resource_type}, not to {shown}",
        )
        return report.issues
    for check in checks:
        check(data, report)
    if url == naming.SD_TWIIN_NOTIFICATION:
        _nested(data, report)
    return report.issues


def _nested(bundle: Mapping[str, Any], report: Report) -> None:
    """Entries after the status that declare a Twiin profile are checked too (full-resource)."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries[1:], start=1):
        inner = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(inner, Mapping):
            continue
        for url in declared_profiles(inner):
            for issue in _run(inner, url):
                report.issues.append(
                    ValidationIssue(
                        issue.key,
                        issue.severity,
                        f"Bundle.entry[{index}].resource.{issue.path}",
                        issue.message,
                    )
                )
