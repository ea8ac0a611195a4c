"""Twiin profile invariants (TA Workflow, TA Notifications) as named checks with severities.

>>> issues = validate(task)                      # profile from meta.profile
>>> raise_for_errors(issues)                     # ProfileValidationError on any error
"""

from twiin.naming import (
    SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK,
    SD_CANCELLATION_REQUEST_TASK,
    SD_COORDINATION_TASK,
    SD_TWIIN_NOTIFICATION,
    SD_TWIIN_SUBSCRIPTION,
    SD_TWIIN_SUBSCRIPTION_STATUS,
    SD_WORKFLOW_SERVICE_REQUEST,
    SD_WORKFLOW_SUBSCRIPTION,
)
from twiin.validation._invariants import INVARIANTS, Invariant
from twiin.validation._issues import Severity, ValidationIssue, errors_only, has_errors, raise_for_errors
from twiin.validation.core import PROFILES, as_json, declared_profiles, validate

__all__ = [
    "INVARIANTS",
    "PROFILES",
    "SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK",
    "SD_CANCELLATION_REQUEST_TASK",
    "SD_COORDINATION_TASK",
    "SD_TWIIN_NOTIFICATION",
    "SD_TWIIN_SUBSCRIPTION",
    "SD_TWIIN_SUBSCRIPTION_STATUS",
    "SD_WORKFLOW_SERVICE_REQUEST",
    "SD_WORKFLOW_SUBSCRIPTION",
    "Invariant",
    "Severity",
    "ValidationIssue",
    "as_json",
    "declared_profiles",
    "errors_only",
    "has_errors",
    "raise_for_errors",
    "validate",
]
