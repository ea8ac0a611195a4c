"""Validation issues: what a check reports, and helpers to act on a list of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from twiin.errors import ProfileValidationError

__all__ = ["Severity", "ValidationIssue", "errors_only", "has_errors", "raise_for_errors"]

Severity = Literal["error", "warning"]


@attrs.frozen
class ValidationIssue:
    """One finding of :func:`twiin.validation.validate`.

    ``key`` is the invariant key (``twiin-ct-1``) or a structural rule (``cardinality``,
    ``fixed-value``, ``binding``, ``type``, ``resource-type``); ``path`` is a FHIRPath-like
    location (``Task.requester.identifier.system``). Messages never carry identifier values.
    """

    key: str
    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity} {self.key} at {self.path}: {self.message}"


def errors_only(issues: Iterable[ValidationIssue]) -> list[ValidationIssue]:
    """The issues with severity ``error``."""
    return [issue for issue in issues if issue.severity == "error"]


def has_errors(issues: Iterable[ValidationIssue]) -> bool:
    """True when at least one issue has severity ``error`` (warnings do not count)."""
    return any(issue.severity == "error" for issue in issues)


def raise_for_errors(issues: Iterable[ValidationIssue]) -> None:
    """Raise :class:`~twiin.errors.ProfileValidationError` when any issue is an error."""
    found = errors_only(issues)
    if found:
        keys = ", ".join(sorted({issue.key for issue in found}))
        raise ProfileValidationError(
            f"{len(found)} profile error(s): {keys}; first: {found[0]}", issues=found
        )
