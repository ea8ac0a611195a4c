"""The Twiin profile invariants: key, severity, context, exact FHIRPath and human text."""

from __future__ import annotations

import attrs

from twiin.validation._issues import Severity

__all__ = ["INVARIANTS", "Invariant"]


@attrs.frozen
class Invariant:
    """One published invariant of a Twiin profile (TA Workflow or TA Notifications)."""

    key: str
    severity: Severity
    context: str
    expression: str
    human: str


_TAWF = "https://fhir.twiin.nl/ig/workflow/CodeSystem/ta-workflow"
_AUTH = "part.where(name = 'authorization-type')"
_AVAL = "part.where(name = 'authorization-value')"
_NE = "parameter.where(name = 'notification-event')"
_FIRST = "entry.first().resource.parameter"

_ALL = (
    Invariant(
        "twiin-ct-1",
        "error",
        "Coordination Task",
        "(status = 'draft' or status = 'ready' or status = 'on-hold').not()",
        "a Coordination Task is never draft, ready or on-hold",
    ),
    Invariant(
        "twiin-ct-2",
        "error",
        "Coordination Task",
        f"statusReason.coding.where(system = '{_TAWF}' and code = 'not-selected').exists() "
        "implies status = 'cancelled'",
        "statusReason not-selected is only allowed with status cancelled",
    ),
    Invariant(
        "twiin-ct-3",
        "error",
        "Coordination Task",
        f"businessStatus.coding.where(system = '{_TAWF}' and code = 'selected').exists() implies "
        "(code.coding.where(system = 'http://hl7.org/fhir/CodeSystem/task-code' and code = 'fulfill')"
        ".exists() and for.exists())",
        "a selected Coordination Task has code fulfill and a 'for' patient reference",
    ),
    Invariant(
        "twiin-ct-4",
        "error",
        "Coordination Task",
        f"code.coding.where(system = '{_TAWF}' and code = 'request-fulfillment').exists() "
        "implies for.empty()",
        "no patient reference ('for') while the code is request-fulfillment",
    ),
    Invariant(
        "twiin-ct-5",
        "warning",
        "Coordination Task",
        "(status = 'rejected' or status = 'cancelled') implies statusReason.exists()",
        "a rejected or cancelled Coordination Task SHOULD give a statusReason",
    ),
    Invariant(
        "twiin-ct-6",
        "warning",
        "Task.for.identifier",
        "system != 'http://fhir.nl/fhir/NamingSystem/bsn'",
        "Task.for.identifier SHOULD NOT carry the BSN (keep it in Patient.identifier)",
    ),
    Invariant(
        "twiin-crt-1",
        "error",
        "Cancellation Request Task",
        "status = 'requested' or status = 'accepted' or status = 'rejected' or status = 'cancelled' "
        "or status = 'entered-in-error'",
        "a Cancellation Request Task is requested, accepted, rejected, cancelled or entered-in-error",
    ),
    Invariant(
        "twiin-acrt-1",
        "error",
        "Authorization Cancellation Request Task",
        "status = 'requested' or status = 'accepted' or status = 'rejected'",
        "an Authorization Cancellation Request Task is requested, accepted or rejected",
    ),
    Invariant(
        "twiin-task-1",
        "warning",
        "Task (all three Twiin Task profiles)",
        "statusReason.exists() implies statusReason.text.exists()",
        "statusReason SHOULD have a text",
    ),
    Invariant(
        "twiin-aid-1",
        "error",
        "Task.owner.identifier, Task.location.identifier",
        "assigner.identifier.where(system = 'http://kvk.nl').empty()",
        "the assigner of a custodian-assigned identifier must not be a KvK number",
    ),
    Invariant(
        "twiin-sr-1",
        "error",
        "ServiceRequest.subject",
        "descendants().where(url = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason').empty()",
        "the ServiceRequest subject may not be masked with data-absent-reason",
    ),
    Invariant(
        "twiin-wsub-1",
        "error",
        "Subscription.criteria.extension[filterCriteria]",
        "value.ofType(string).matches('^owner:identifier=[^| ]+[|][^| ]+$')",
        "the filter criteria has the form owner:identifier=<system>|<value>",
    ),
    Invariant(
        "twiin-sub-1",
        "warning",
        "Subscription",
        "criteria.matches('^https?://[^?]+$')",
        "criteria SHOULD be the canonical URL of a SubscriptionTopic, not an R4 search",
    ),
    Invariant(
        "twiin-st-1",
        "error",
        "Parameters (subscription status)",
        "parameter.where(name = 'subscription').all(value.reference.exists() and "
        "value.reference.matches('^https?://[^ ]+$'))",
        "the subscription reference is an absolute http(s) URL",
    ),
    Invariant(
        "twiin-st-2",
        "error",
        "Parameters (subscription status)",
        "parameter.where(name = 'type' and value = 'event-notification').exists() implies "
        f"({_NE}.exists() and {_NE}.all(part.where(name = 'event-number').exists() and "
        "part.where(name = 'timestamp').exists()))",
        "an event-notification has notification-events, each with event-number and timestamp",
    ),
    Invariant(
        "twiin-st-3",
        "error",
        "Parameters (subscription status)",
        "parameter.where(name = 'type' and value = 'heartbeat').exists() implies "
        "parameter.where(name = 'events-since-subscription-start').exists()",
        "a heartbeat carries events-since-subscription-start",
    ),
    Invariant(
        "twiin-st-4",
        "warning",
        "Parameters (subscription status)",
        f"{_NE}.part.where(name = 'focus').all(value.reference.exists() and "
        "value.reference.matches('^https?://[^ ]+$'))",
        "the focus reference SHOULD be an absolute http(s) URL",
    ),
    Invariant(
        "twiin-st-5",
        "error",
        "Parameters (subscription status)",
        f"{_NE}.all({_AUTH}.count() <= 1 and {_AVAL}.count() <= 1 and ({_AUTH}.exists() = "
        f"{_AVAL}.exists()) and {_AUTH}.all(value.ofType(Coding).exists()) and "
        f"{_AVAL}.all(value.ofType(string).exists())) and ({_NE}.part.where(name = "
        "'authorization-type' or name = 'authorization-value').exists() implies "
        "parameter.where(name = 'type' and (value = 'event-notification' or "
        "value = 'query-event')).exists())",
        "authorization-type (Coding) and authorization-value (string) come as a pair, at most once per "
        "event, and only in event-notification or query-event",
    ),
    Invariant(
        "twiin-ntf-1",
        "error",
        "Bundle (subscription notification)",
        f"{_FIRST}.where(name = 'type').value.all($this = 'handshake' or $this = 'heartbeat' or "
        "$this = 'event-notification')",
        "a notification is a handshake, heartbeat or event-notification",
    ),
    Invariant(
        "twiin-ntf-2",
        "error",
        "Bundle (subscription notification)",
        "entry.first().request.method = 'GET' and entry.first().request.url = "
        f"{_FIRST}.where(name = 'subscription').value.reference.first() + '/$status'",
        "the status entry's request is GET <subscription reference>/$status",
    ),
    Invariant(
        "twiin-ntf-3",
        "error",
        "Bundle (subscription notification)",
        f"{_FIRST}.where(name = 'notification-event').part.where(name = 'focus').empty() implies "
        f"({_FIRST}.where(name = 'notification-event').part.where(name = 'additional-context').empty() "
        "and entry.count() = 1)",
        "a notification without focus has no additional-context and no further entries",
    ),
    Invariant(
        "twiin-ntf-4",
        "error",
        "Bundle (subscription notification)",
        "entry.skip(1).all(fullUrl.exists() and request.exists())",
        "every entry after the status has fullUrl and request",
    ),
)

INVARIANTS: dict[str, Invariant] = {inv.key: inv for inv in _ALL}
"""Every Twiin invariant by key."""
