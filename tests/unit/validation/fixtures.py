"""Team-written fixtures after the Twiin examples described in spec/twiin-core.md §3.8, §4 and §7.

Each function returns a fresh dict, so tests may mutate it into a negative case.
"""

from __future__ import annotations

from typing import Any

from twiin import naming

TAWF = naming.CS_TA_WORKFLOW
TASK_CODE = naming.HL7_TASK_CODE_SYSTEM
PLACER_URA = "12345678"
PATIENT = "Patient/3f6a2b8c-1d4e-4f7a-9b2c-5e8d1a7c4f90"
SERVICE_REQUEST = "ServiceRequest/0b7c5d0e-6f3a-4c2b-9e1d-8a4f2c6b3d75"
SUB_URL = "https://sender.example.org/fhir/Subscription/7f3e9a2c-5d18-4b6f-9c3a-8e2d4f6b1a59"
TOPIC = "https://example.org/fhir/SubscriptionTopic/task-status-change"
FOCUS = "https://sender.example.org/fhir/Task/5f2f9a4e-8c1d-4b6e-9d3a-7c0e2f4b8a1d"


def assigned_id(system: str, value: str, assigner_ura: str, assigner_system: str = naming.URA_OID_URN) -> Any:
    return {
        "use": "official",
        "system": system,
        "value": value,
        "assigner": {
            "identifier": {
                "type": {"coding": [{"system": naming.PROVENANCE_PARTICIPANT_TYPE, "code": "custodian"}]},
                "system": assigner_system,
                "value": assigner_ura,
            }
        },
    }


def owner_a() -> Any:
    return {
        "type": "HealthcareService",
        "identifier": assigned_id(
            "https://fulfiller-a.example.org/healthcareservice", "wondzorg-thuis", "87654321"
        ),
    }


def owner_b() -> Any:
    return {
        "type": "HealthcareService",
        "identifier": assigned_id(
            "https://fulfiller-b.example.org/healthcareservice", "wijkverpleging-noord", "11223344"
        ),
    }


def location_a() -> Any:
    return {
        "type": "Location",
        "identifier": assigned_id(
            "https://fulfiller-a.example.org/location", "vestiging-centrum", "87654321"
        ),
    }


def type_of_work() -> Any:
    return {
        "type": {"coding": [{"system": TAWF, "code": "type-of-work"}]},
        "valueCodeableConcept": {"coding": [{"system": naming.SNOMED_SYSTEM, "code": "308292007"}]},
    }


def _task(task_id: str, profile: str, **fields: Any) -> Any:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"profile": [profile]},
        "identifier": [{"system": "https://placer.example.org/task", "value": task_id}],
        "authoredOn": "2026-10-09T09:00:00+02:00",
        "requester": {"identifier": {"system": naming.URA_SYSTEM, "value": PLACER_URA}},
    }
    task.update(fields)
    return task


def ct_invited() -> Any:
    """6d2e9f41: requested, request-fulfillment, owner A, location A."""
    return _task(
        "6d2e9f41-8b3c-4a7d-b5e2-1c9f7a3d8e64",
        naming.SD_COORDINATION_TASK,
        status="requested",
        intent="order",
        code={"coding": [{"system": TAWF, "code": "request-fulfillment"}]},
        focus={"reference": SERVICE_REQUEST},
        owner=owner_a(),
        location=location_a(),
        input=[type_of_work()],
    )


def ct_selected() -> Any:
    """a41c7e2b: accepted, businessStatus selected, code fulfill, for Patient, bid output."""
    return _task(
        "a41c7e2b-5f9d-4e3a-8c6b-2d7f1e9a5b38",
        naming.SD_COORDINATION_TASK,
        status="accepted",
        intent="order",
        businessStatus={"coding": [{"system": TAWF, "code": "selected"}]},
        code={"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
        focus={"reference": SERVICE_REQUEST},
        **{"for": {"reference": PATIENT}},
        owner=owner_a(),
        input=[type_of_work()],
        output=[{"type": {"text": "Bid"}, "valueString": "Available from 2026-10-12"}],
    )


def ct_not_selected() -> Any:
    """c8e3d5a7: cancelled, statusReason not-selected with text, owner B."""
    return _task(
        "c8e3d5a7-2b4f-4d9e-a1c6-7f3b8e2d4a91",
        naming.SD_COORDINATION_TASK,
        status="cancelled",
        statusReason={"coding": [{"system": TAWF, "code": "not-selected"}], "text": "not selected"},
        intent="order",
        code={"coding": [{"system": TAWF, "code": "request-fulfillment"}]},
        focus={"reference": SERVICE_REQUEST},
        owner=owner_b(),
        input=[type_of_work()],
    )


def ct_in_progress() -> Any:
    """e2f7a9c1: in-progress, fulfill, for Patient, executionPeriod.start, supplemental inputs."""
    return _task(
        "e2f7a9c1-4d6b-4b8e-9a3f-6c1d5e8b2a47",
        naming.SD_COORDINATION_TASK,
        status="in-progress",
        intent="order",
        code={"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
        focus={"reference": SERVICE_REQUEST},
        **{"for": {"reference": PATIENT}},
        executionPeriod={"start": "2026-10-12T08:00:00+02:00"},
        owner=owner_a(),
        input=[
            type_of_work(),
            {
                "type": {"coding": [{"system": TAWF, "code": "supplemental-resource"}]},
                "valueReference": {"reference": "Observation/obs-1"},
            },
            {
                "type": {"coding": [{"system": TAWF, "code": "supplemental-query"}]},
                "valueString": f"Observation?patient=3f6a2b8c-1d4e-4f7a-9b2c-5e8d1a7c4f90&code={naming.LOINC_SYSTEM}|8302-2",
            },
        ],
    )


def crt() -> Any:
    """5b9d3e7f: requested, order, abort, focus the in-progress Coordination Task, owner A."""
    return _task(
        "5b9d3e7f-1a2c-4f6e-8d4b-9e2a7c1f3b56",
        naming.SD_CANCELLATION_REQUEST_TASK,
        status="requested",
        intent="order",
        code={"coding": [{"system": TASK_CODE, "code": "abort"}]},
        focus={"reference": "Task/e2f7a9c1-4d6b-4b8e-9a3f-6c1d5e8b2a47"},
        owner=owner_a(),
        input=[type_of_work()],
    )


def acrt() -> Any:
    """9c4a1f8e: requested, proposal, abort, focus ServiceRequest, requester/owner URA."""
    task = _task(
        "9c4a1f8e-7d3b-4e2a-b6f9-3a8e5d2c7b14",
        naming.SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK,
        status="requested",
        intent="proposal",
        code={"coding": [{"system": TASK_CODE, "code": "abort"}]},
        focus={"reference": SERVICE_REQUEST},
        owner={"identifier": {"system": naming.URA_SYSTEM, "value": PLACER_URA}},
        statusReason={"text": "Contraindication found for the requested service"},
    )
    task["requester"] = {"identifier": {"system": naming.URA_SYSTEM, "value": "87654321"}}
    return task


def service_request() -> Any:
    return {
        "resourceType": "ServiceRequest",
        "id": "0b7c5d0e-6f3a-4c2b-9e1d-8a4f2c6b3d75",
        "meta": {"profile": [naming.SD_WORKFLOW_SERVICE_REQUEST]},
        "status": "active",
        "intent": "order",
        "instantiatesCanonical": ["https://example.org/fhir/ActivityDefinition/transfer-of-care"],
        "code": {"coding": [{"system": naming.SNOMED_SYSTEM, "code": "308292007"}]},
        "subject": {"reference": PATIENT},
    }


def subscription(content: str = "id-only", status: str = "requested", **channel_ext: int) -> Any:
    """The published create request: id-only, JSON, rest-hook to the receiver."""
    extensions = []
    if "heartbeat" in channel_ext:
        extensions.append(
            {"url": naming.EXT_BACKPORT_HEARTBEAT_PERIOD, "valueUnsignedInt": channel_ext["heartbeat"]}
        )
    if "timeout" in channel_ext:
        extensions.append({"url": naming.EXT_BACKPORT_TIMEOUT, "valueUnsignedInt": channel_ext["timeout"]})
    channel: dict[str, Any] = {
        "type": "rest-hook",
        "endpoint": "https://receiver.example.org/fhir/notifications",
        "payload": naming.FHIR_JSON,
        "_payload": {"extension": [{"url": naming.EXT_BACKPORT_PAYLOAD_CONTENT, "valueCode": content}]},
    }
    if extensions:
        channel["extension"] = extensions
    return {
        "resourceType": "Subscription",
        "meta": {"profile": [naming.SD_TWIIN_SUBSCRIPTION]},
        "status": status,
        "reason": "Notification of Task status changes",
        "criteria": "https://example.org/fhir/SubscriptionTopic/task-status-change",
        "_criteria": {
            "extension": [
                {
                    "url": naming.EXT_BACKPORT_FILTER_CRITERIA,
                    "valueString": f"owner={naming.URA_SYSTEM}|12104037",
                }
            ]
        },
        "channel": channel,
    }


def workflow_subscription() -> Any:
    """1e8b4c6d: active, transfer-of-care topic, owner:identifier filter, heartbeat 3600, id-only."""
    sub = subscription(status="active", heartbeat=3600)
    sub["id"] = "1e8b4c6d-3f7a-4b2e-9d5c-8a1f6e3b7c29"
    sub["meta"] = {"profile": [naming.SD_WORKFLOW_SUBSCRIPTION]}
    sub["criteria"] = "https://example.org/fhir/SubscriptionTopic/transfer-of-care"
    sub["_criteria"]["extension"][0]["valueString"] = (
        "owner:identifier=https://fulfiller-a.example.org/healthcareservice|wondzorg-thuis"
    )
    sub["channel"]["endpoint"] = "https://fulfiller-a.example.org/fhir/notifications"
    return sub


def status_parameters(
    kind: str, status: str = "active", events: list[Any] | None = None, since: str | None = None
) -> Any:
    params: list[Any] = [
        {"name": "subscription", "valueReference": {"reference": SUB_URL}},
        {"name": "topic", "valueCanonical": TOPIC},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
    ]
    if since is not None:
        params.append({"name": "events-since-subscription-start", "valueString": since})
    for event in events or []:
        params.append({"name": "notification-event", "part": event})
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [naming.SD_TWIIN_SUBSCRIPTION_STATUS]},
        "parameter": params,
    }


def event(number: str, focus: str | None = FOCUS, **auth: str) -> list[Any]:
    parts: list[Any] = [
        {"name": "event-number", "valueString": number},
        {"name": "timestamp", "valueInstant": "2026-07-16T09:15:00Z"},
    ]
    if focus is not None:
        parts.append({"name": "focus", "valueReference": {"reference": focus}})
    if "auth_type" in auth:
        parts.append(
            {
                "name": "authorization-type",
                "valueCoding": {
                    "system": "https://example.org/CodeSystem/authorization-type",
                    "code": auth["auth_type"],
                },
            }
        )
    if "auth_value" in auth:
        parts.append({"name": "authorization-value", "valueString": auth["auth_value"]})
    return parts


def _bundle(params: Any, *more: Any) -> Any:
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [naming.SD_TWIIN_NOTIFICATION]},
        "type": "history",
        "timestamp": "2026-07-16T09:15:01Z",
        "entry": [
            {
                "fullUrl": "urn:uuid:9d3b1c62-3f0e-4d0c-9b1e-2a7f5c3e8d41",
                "resource": params,
                "request": {"method": "GET", "url": SUB_URL + "/$status"},
                "response": {"status": "200"},
            },
            *more,
        ],
    }


def handshake() -> Any:
    return _bundle(status_parameters("handshake", status="requested"))


def heartbeat() -> Any:
    return _bundle(status_parameters("heartbeat", since="42"))


def event_id_only() -> Any:
    entry = {
        "fullUrl": FOCUS,
        "request": {"method": "PUT", "url": "Task/5f2f9a4e-8c1d-4b6e-9d3a-7c0e2f4b8a1d"},
        "response": {"status": "200"},
    }
    return _bundle(status_parameters("event-notification", events=[event("42")]), entry)


def event_full_resource() -> Any:
    entry = {
        "fullUrl": FOCUS,
        "resource": {
            "resourceType": "Task",
            "id": "5f2f9a4e-8c1d-4b6e-9d3a-7c0e2f4b8a1d",
            "status": "ready",
            "intent": "order",
        },
        "request": {"method": "PUT", "url": "Task/5f2f9a4e-8c1d-4b6e-9d3a-7c0e2f4b8a1d"},
        "response": {"status": "200"},
    }
    return _bundle(status_parameters("event-notification", events=[event("44")]), entry)


def event_empty() -> Any:
    return _bundle(status_parameters("event-notification", events=[event("43", focus=None)]))


def events_response_auth() -> Any:
    """$events answer: query-event with the provisional authorization parts."""
    params = status_parameters(
        "query-event",
        events=[event("42", auth_type="example", auth_value="Zk3p9QxT2mVb7LcW8nRy")],
        since="44",
    )
    bundle = event_id_only()
    bundle["entry"][0]["resource"] = params
    bundle["entry"][0]["request"]["url"] = SUB_URL + "/$events?eventsSinceNumber=42&eventsUntilNumber=42"
    del bundle["meta"]
    return bundle


def status_response() -> Any:
    """$status answer: searchset with one query-status Parameters."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [{"relation": "self", "url": SUB_URL + "/$status"}],
        "entry": [
            {
                "fullUrl": "urn:uuid:0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                "resource": status_parameters("query-status", since="44"),
                "search": {"mode": "match"},
            }
        ],
    }
