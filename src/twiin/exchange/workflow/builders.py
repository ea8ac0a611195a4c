"""Builders for the TA Workflow resources, as JSON-ready FHIR R4 dicts.

Each builder fills exactly what the Twiin profile asks (``meta.profile``, fixed codes, required
cardinalities) and refuses inputs that would break an invariant before anything is sent. No
clock is read: timestamps are parameters.
"""

from __future__ import annotations

import copy
import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from twiin import naming
from twiin.errors import ExchangeError, IllegalTransition
from twiin.exchange.workflow.codes import (
    ABORT,
    FULFILL,
    REQUEST_FULFILLMENT,
    SUPPLEMENTAL_QUERY,
    SUPPLEMENTAL_RESOURCE,
    TYPE_OF_WORK,
    coding,
    has_coding,
)
from twiin.identifiers import Ura

__all__ = [
    "AssignedId",
    "Pattern",
    "authorization_cancellation_request_task",
    "cancellation_request_task",
    "coordination_task",
    "fhir_datetime",
    "service_request",
    "workflow_subscription",
]

_RELATIVE_QUERY = re.compile(r"^[A-Z][A-Za-z]+(\?|$)")
_CUSTODIAN = coding(naming.PROVENANCE_PARTICIPANT_TYPE, "custodian")
_URA_ASSIGNER_SYSTEM = f"urn:oid:{naming.URA_OID}"


class Pattern(enum.StrEnum):
    """Single Fulfiller Pattern (code ``fulfill``) or Multiple Fulfillers (``request-fulfillment``)."""

    SINGLE = "single"
    MULTIPLE = "multiple"


def fhir_datetime(moment: datetime) -> str:
    """A FHIR ``dateTime``/``instant`` with seconds and a UTC offset; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ExchangeError("timestamps must carry a timezone")
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


@attrs.frozen
class AssignedId:
    """A custodian-assigned identifier (``nl-gf-custodianassignedidentifier``) assigned by a URA.

    Identifies the Fulfiller's HealthcareService (``Task.owner``) or Location. Under TA Workflow
    the assigner is always a URA (``twiin-aid-1`` forbids KvK).
    """

    system: str
    value: str
    assigner: Ura

    def __attrs_post_init__(self) -> None:
        if not self.system or not self.value or "|" in self.system or "|" in self.value:
            raise ExchangeError("an assigned identifier needs a system and a value without '|'")

    def to_identifier(self) -> dict[str, Any]:
        """The FHIR ``Identifier`` dict, with ``use = official`` and the custodian assigner."""
        return {
            "use": "official",
            "system": self.system,
            "value": self.value,
            "assigner": {
                "identifier": {
                    "type": {"coding": [dict(_CUSTODIAN)]},
                    "system": _URA_ASSIGNER_SYSTEM,
                    "value": self.assigner.value,
                }
            },
        }

    def to_token(self) -> str:
        """The search token ``system|value`` (for ``owner:identifier``)."""
        return f"{self.system}|{self.value}"

    def reference(self, resource_type: str = "HealthcareService") -> dict[str, Any]:
        """A logical ``Reference`` to the HealthcareService (or Location) with this identifier."""
        return {"type": resource_type, "identifier": self.to_identifier()}

    @classmethod
    def from_identifier(cls, identifier: Any) -> AssignedId:
        """Read an assigned identifier dict; the assigner must be a URA (never KvK)."""
        if not isinstance(identifier, Mapping):
            raise ExchangeError("assigned identifier is missing")
        system, value = identifier.get("system"), identifier.get("value")
        assigner = identifier.get("assigner")
        assigner_id = assigner.get("identifier") if isinstance(assigner, Mapping) else None
        if not isinstance(system, str) or not isinstance(value, str) or not isinstance(assigner_id, Mapping):
            raise ExchangeError("assigned identifier needs system, value and assigner.identifier")
        if assigner_id.get("system") not in (_URA_ASSIGNER_SYSTEM, naming.URA_SYSTEM):
            raise ExchangeError("assigned identifier's assigner is not a URA")
        ura = assigner_id.get("value")
        if not isinstance(ura, str):
            raise ExchangeError("assigned identifier's assigner has no value")
        return cls(system, value, Ura(ura))


def _identifier(system: str, value: str | None) -> dict[str, str]:
    return {"system": system, "value": value or str(uuid.uuid4())}


def _ura_reference(ura: Ura) -> dict[str, Any]:
    return {"type": "Organization", "identifier": ura.to_dict()}


def _input(code: str, **value: Any) -> dict[str, Any]:
    return {"type": {"coding": [coding(naming.CS_TA_WORKFLOW, code)]}, **value}


def _reason(text: str | None, reason: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if reason is None and text is None:
        return None
    concept = dict(reason or {})
    if text is not None:
        concept["text"] = text
    if "text" not in concept:
        raise ExchangeError("a statusReason needs a text (twiin-task-1)")
    return concept


def service_request(
    *,
    patient: str,
    instantiates: str | Sequence[str],
    code: Mapping[str, Any],
    authored_on: datetime,
    requester: Ura | None = None,
    identifier_system: str | None = None,
    identifier_value: str | None = None,
    status: str = "active",
    intent: str = "order",
    resource_id: str | None = None,
) -> dict[str, Any]:
    """A Twiin Workflow ServiceRequest. ``performer`` stays unset until a candidate is selected.

    ``patient`` is a ``Patient/<id>`` reference at the Placer; the subject is never masked
    (``twiin-sr-1``). ``instantiates`` is the ActivityDefinition/PlanDefinition canonical(s).
    """
    if not patient.startswith("Patient/") or len(patient) <= len("Patient/"):
        raise ExchangeError("the ServiceRequest subject must be a Patient/<id> reference")
    canonicals = [instantiates] if isinstance(instantiates, str) else list(instantiates)
    if not canonicals:
        raise ExchangeError("instantiatesCanonical needs at least one canonical")
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "meta": {"profile": [naming.SD_WORKFLOW_SERVICE_REQUEST]},
        "status": status,
        "intent": intent,
        "instantiatesCanonical": canonicals,
        "code": copy.deepcopy(dict(code)),
        "subject": {"reference": patient},
        "authoredOn": fhir_datetime(authored_on),
    }
    if resource_id is not None:
        resource["id"] = resource_id
    if identifier_system is not None:
        resource["identifier"] = [_identifier(identifier_system, identifier_value)]
    if requester is not None:
        resource["requester"] = _ura_reference(requester)
    return resource


def coordination_task(
    *,
    service_request: str,
    requester: Ura,
    owner: AssignedId,
    type_of_work: Mapping[str, Any],
    authored_on: datetime,
    identifier_system: str,
    pattern: Pattern = Pattern.SINGLE,
    patient: str | None = None,
    location: AssignedId | None = None,
    supplemental_resources: Sequence[str] = (),
    supplemental_queries: Sequence[str] = (),
    identifier_value: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """A Twiin Coordination Task in status ``requested`` for one (candidate) Fulfiller.

    Single Fulfiller Pattern: code ``task-code#fulfill`` and ``for`` = ``patient``. Multiple
    Fulfillers Pattern: code ``ta-workflow#request-fulfillment``, no ``for`` and no supplemental
    inputs (nothing that identifies the patient before selection, ``twiin-ct-4``).
    """
    if not service_request.startswith("ServiceRequest/"):
        raise ExchangeError("focus must be a ServiceRequest/<id> reference")
    if pattern is Pattern.MULTIPLE:
        if patient is not None:
            raise ExchangeError("the Multiple Fulfillers Pattern sets no patient before selection")
        if supplemental_resources or supplemental_queries:
            raise ExchangeError("supplemental inputs are shared only after selection")
        code = coding(naming.CS_TA_WORKFLOW, REQUEST_FULFILLMENT, "Request fulfillment")
    else:
        if patient is None or not patient.startswith("Patient/"):
            raise ExchangeError("the Single Fulfiller Pattern needs a Patient/<id> reference")
        code = coding(naming.HL7_TASK_CODE_SYSTEM, FULFILL, "Fulfill the focal request")
    inputs = [_input(TYPE_OF_WORK, valueCodeableConcept=copy.deepcopy(dict(type_of_work)))]
    inputs += [_input(SUPPLEMENTAL_RESOURCE, valueReference={"reference": r}) for r in supplemental_resources]
    for query in supplemental_queries:
        if not _RELATIVE_QUERY.match(query):
            raise ExchangeError("a supplemental query is relative to the Placer's FHIR base")
        inputs.append(_input(SUPPLEMENTAL_QUERY, valueString=query))
    task: dict[str, Any] = {
        "resourceType": "Task",
        "meta": {"profile": [naming.SD_COORDINATION_TASK]},
        "identifier": [_identifier(identifier_system, identifier_value)],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [code]},
        "focus": {"reference": service_request},
        "authoredOn": fhir_datetime(authored_on),
        "requester": _ura_reference(requester),
        "owner": owner.reference(),
        "input": inputs,
    }
    if description is not None:
        task["description"] = description
    if patient is not None:
        task["for"] = {"reference": patient}
    if location is not None:
        task["location"] = owner_location(location)
    return task


def owner_location(location: AssignedId) -> dict[str, Any]:
    """A ``Task.location`` reference to an ``nl-gf-location`` by its assigned identifier."""
    return location.reference("Location")


def _task_id(task: Mapping[str, Any]) -> str:
    task_id = task.get("id")
    if not isinstance(task_id, str) or not task_id:
        raise ExchangeError("the Coordination Task has no id (create it first)")
    return task_id


def cancellation_request_task(
    coordination: Mapping[str, Any],
    *,
    authored_on: datetime,
    identifier_system: str,
    requester: Ura | None = None,
    reason_text: str | None = None,
    identifier_value: str | None = None,
) -> dict[str, Any]:
    """A Twiin Cancellation Request Task asking the Fulfiller to stop started work.

    Only while ``coordination`` is ``in-progress`` (else :class:`~twiin.errors.IllegalTransition`);
    owner and type of work are copied from the Coordination Task.
    """
    status = str(coordination.get("status"))
    if status != "in-progress":
        raise IllegalTransition(
            status, "cancellation-request", "only an in-progress Task can be asked to stop"
        )
    owner = coordination.get("owner")
    work = [
        i
        for i in coordination.get("input") or []
        if isinstance(i, Mapping) and has_coding(i.get("type"), naming.CS_TA_WORKFLOW, TYPE_OF_WORK)
    ]
    if not isinstance(owner, Mapping) or len(work) != 1:
        raise ExchangeError("the Coordination Task lacks an owner or its single type-of-work input")
    task: dict[str, Any] = {
        "resourceType": "Task",
        "meta": {"profile": [naming.SD_CANCELLATION_REQUEST_TASK]},
        "identifier": [_identifier(identifier_system, identifier_value)],
        "status": "requested",
        "intent": "order",
        "code": {
            "coding": [
                coding(naming.HL7_TASK_CODE_SYSTEM, ABORT, "Mark the focal resource as no longer active")
            ]
        },
        "focus": {"reference": f"Task/{_task_id(coordination)}"},
        "authoredOn": fhir_datetime(authored_on),
        "owner": copy.deepcopy(dict(owner)),
        "input": [copy.deepcopy(dict(work[0]))],
    }
    if requester is not None:
        task["requester"] = _ura_reference(requester)
    if reason_text is not None:
        task["reasonCode"] = {"text": reason_text}
    return task


def authorization_cancellation_request_task(
    *,
    service_request: str,
    requester: Ura,
    placer: Ura,
    reason_text: str,
    authored_on: datetime,
    identifier_system: str | None = None,
    identifier_value: str | None = None,
    reason: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Twiin Authorization Cancellation Request Task: the Fulfiller (``requester`` URA) asks the
    Placer (``placer`` URA, the owner) to withdraw the ServiceRequest. Status ``requested``."""
    if not service_request.startswith("ServiceRequest/"):
        raise ExchangeError("focus must be a ServiceRequest/<id> reference")
    task: dict[str, Any] = {
        "resourceType": "Task",
        "meta": {"profile": [naming.SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK]},
        "status": "requested",
        "statusReason": _reason(reason_text, reason),
        "intent": "proposal",
        "code": {
            "coding": [
                coding(naming.HL7_TASK_CODE_SYSTEM, ABORT, "Mark the focal resource as no longer active")
            ]
        },
        "focus": {"reference": service_request},
        "authoredOn": fhir_datetime(authored_on),
        "requester": _ura_reference(requester),
        "owner": _ura_reference(placer),
    }
    if identifier_system is not None:
        task["identifier"] = [_identifier(identifier_system, identifier_value)]
    return task


def workflow_subscription(
    *,
    topic: str,
    owner: AssignedId,
    endpoint: str,
    heartbeat_period: int,
    reason: str = "TA Workflow notifications",
    payload: str = naming.FHIR_JSON,
    timeout: int | None = None,
    headers: Sequence[str] = (),
    status: str = "requested",
) -> dict[str, Any]:
    """A Twiin Workflow Subscription: topic canonical, ``owner:identifier`` filter, rest-hook,
    mandatory heartbeat, ``id-only`` payload. One per HealthcareService, topic and Placer."""
    if not topic.startswith(("https://", "http://")) or "?" in topic:
        raise ExchangeError("criteria must be the canonical URL of a SubscriptionTopic")
    if not endpoint.startswith("https://"):
        raise ExchangeError("the rest-hook endpoint must be an https URL")
    if heartbeat_period <= 0:
        raise ExchangeError("heartbeat period must be a positive number of seconds")
    if payload not in (naming.FHIR_JSON, naming.FHIR_XML):
        raise ExchangeError("payload must be application/fhir+json or application/fhir+xml")
    if " " in owner.system or " " in owner.value:
        raise ExchangeError("the owner identifier may not contain spaces (twiin-wsub-1)")
    channel: dict[str, Any] = {
        "extension": [{"url": naming.EXT_BACKPORT_HEARTBEAT_PERIOD, "valueUnsignedInt": heartbeat_period}],
        "type": "rest-hook",
        "endpoint": endpoint,
        "payload": payload,
        "_payload": {"extension": [{"url": naming.EXT_BACKPORT_PAYLOAD_CONTENT, "valueCode": "id-only"}]},
    }
    if timeout is not None:
        channel["extension"].append({"url": naming.EXT_BACKPORT_TIMEOUT, "valueUnsignedInt": timeout})
    if headers:
        channel["header"] = list(headers)
    return {
        "resourceType": "Subscription",
        "meta": {"profile": [naming.SD_WORKFLOW_SUBSCRIPTION]},
        "status": status,
        "reason": reason,
        "criteria": topic,
        "_criteria": {
            "extension": [
                {
                    "url": naming.EXT_BACKPORT_FILTER_CRITERIA,
                    "valueString": f"owner:identifier={owner.to_token()}",
                }
            ]
        },
        "channel": channel,
    }
