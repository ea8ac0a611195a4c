"""R4 (4.0.1) payloads Twiin uses parse with the R4B models; raw bytes keep what models lose."""

from __future__ import annotations

import json

import pytest

from twiin import naming
from twiin.errors import ModelValidationError
from twiin.fhir import FhirVersion, parse_resource, serialize, to_dict

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"

SUBSCRIPTION = {
    "resourceType": "Subscription",
    "id": "sub1",
    "meta": {"profile": [BACKPORT + "backport-subscription"]},
    "status": "requested",
    "reason": "Twiin TA Notifications",
    "criteria": "http://example.org/SubscriptionTopic/task-updates",
    "_criteria": {
        "extension": [
            {"url": BACKPORT + "backport-filter-criteria", "valueString": "Task?owner:identifier=x|1"}
        ]
    },
    "channel": {
        "extension": [
            {"url": BACKPORT + "backport-heartbeat-period", "valueUnsignedInt": 86400},
            {"url": BACKPORT + "backport-timeout", "valueUnsignedInt": 60},
            {"url": BACKPORT + "backport-max-count", "valuePositiveInt": 20},
        ],
        "type": "rest-hook",
        "endpoint": "https://receiver.example.org/fhir/notify",
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": "id-only"}]},
        "header": ["Authorization: Bearer secret"],
    },
}

NOTIFICATION = {
    "resourceType": "Bundle",
    "id": "notification-1",
    "meta": {"profile": [BACKPORT + "backport-subscription-notification-r4"]},
    "type": "history",
    "timestamp": "2020-05-29T11:44:13.1882432-05:00",
    "entry": [
        {
            "fullUrl": "urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400",
            "resource": {
                "resourceType": "Parameters",
                "meta": {"profile": [BACKPORT + "backport-subscription-status-r4"]},
                "parameter": [
                    {
                        "name": "subscription",
                        "valueReference": {"reference": "https://example.org/fhir/Subscription/sub1"},
                    },
                    {"name": "topic", "valueCanonical": "http://example.org/SubscriptionTopic/task-updates"},
                    {"name": "status", "valueCode": "active"},
                    {"name": "type", "valueCode": "event-notification"},
                    {"name": "events-since-subscription-start", "valueString": "2"},
                    {
                        "name": "notification-event",
                        "part": [
                            {"name": "event-number", "valueString": "2"},
                            {
                                "name": "focus",
                                "valueReference": {"reference": "https://example.org/fhir/Task/t1"},
                            },
                        ],
                    },
                ],
            },
            "request": {"method": "GET", "url": "https://example.org/fhir/Subscription/sub1/$status"},
            "response": {"status": "200"},
        },
        {
            "fullUrl": "https://example.org/fhir/Task/t1",
            "request": {"method": "PUT", "url": "Task/t1"},
            "response": {"status": "200"},
        },
    ],
}

MCSD_SEARCHSET = {
    "resourceType": "Bundle",
    "type": "searchset",
    "total": 1,
    "link": [{"relation": "next", "url": "https://directory.example.org/fhir/Organization?_offset=1"}],
    "entry": [
        {
            "fullUrl": "https://directory.example.org/fhir/Organization/o1",
            "resource": {
                "resourceType": "Organization",
                "id": "o1",
                "identifier": [{"system": naming.URA_SYSTEM, "value": "12345678"}],
                "name": "Zorg",
                "endpoint": [{"reference": "Endpoint/e1"}],
            },
            "search": {"mode": "match"},
        },
        {
            "fullUrl": "https://directory.example.org/fhir/Endpoint/e1",
            "resource": {
                "resourceType": "Endpoint",
                "id": "e1",
                "status": "active",
                "connectionType": {
                    "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                    "code": "hl7-fhir-rest",
                },
                "payloadType": [
                    {"coding": [{"system": "http://example.org/payload", "code": "Twiin-TA-notification"}]}
                ],
                "address": "https://zorg.example.org/fhir",
            },
            "search": {"mode": "include"},
        },
        {
            "fullUrl": "https://directory.example.org/fhir/HealthcareService/h1",
            "resource": {
                "resourceType": "HealthcareService",
                "id": "h1",
                "providedBy": {"reference": "Organization/o1"},
                "type": [{"text": "Huisartsenzorg"}],
            },
            "search": {"mode": "include"},
        },
    ],
}

R4_TASK = {
    "resourceType": "Task",
    "id": "t1",
    "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:6c3b5b3b-5f0b-4f0e-9d5c-2c3b6c1e7a11"}],
    "groupIdentifier": {
        "system": "urn:ietf:rfc:3986",
        "value": "urn:uuid:7a1c2f1e-0d0b-4a57-8c56-2f5d0c3b9a22",
    },
    "status": "requested",
    "intent": "order",
    "code": {"coding": [{"system": naming.TASK_CODE_SYSTEM, "code": "pull-notification"}]},
    "for": {"identifier": {"system": naming.BSN_SYSTEM, "value": "999999151"}},
    "authoredOn": "2024-05-01T10:00:00+02:00",
    "requester": {"identifier": {"system": naming.URA_SYSTEM, "value": "12345678"}},
    "owner": {"identifier": {"system": naming.URA_SYSTEM, "value": "87654321"}},
    "restriction": {"period": {"end": "2024-05-08T10:00:00+02:00"}},
    "input": [
        {
            "type": {"coding": [{"system": naming.TASK_PARAMETER_SYSTEM, "code": "authorization-base"}]},
            "valueString": "abc",
        },
        {
            "type": {"coding": [{"system": naming.TASK_PARAMETER_SYSTEM, "code": "read-available"}]},
            "valueString": "/Patient",
        },
    ],
}


@pytest.mark.parametrize(
    "payload", [SUBSCRIPTION, R4_TASK, MCSD_SEARCHSET], ids=["subscription", "task", "mcsd"]
)
def test_r4_payload_round_trips_through_r4b(payload: dict) -> None:
    model = parse_resource(json.dumps(payload).encode(), FhirVersion.R4)
    assert to_dict(model) == payload


def test_backport_extensions_are_reachable() -> None:
    sub = parse_resource(SUBSCRIPTION, FhirVersion.R4)
    assert sub.criteria__ext.extension[0].valueString == "Task?owner:identifier=x|1"
    assert sub.channel.payload__ext.extension[0].valueCode == "id-only"


def test_notification_bundle_parses_with_typed_parameters_entry() -> None:
    bundle = parse_resource(NOTIFICATION, FhirVersion.R4)
    assert bundle.entry[0].resource.get_resource_type() == "Parameters"
    assert bundle.entry[1].resource is None
    # models drop the 7th fractional digit: the raw bytes are the faithful copy
    raw = json.dumps(NOTIFICATION).encode()
    assert b"11:44:13.1882432" in raw
    assert b"11:44:13.1882432" not in serialize(parse_resource(raw, FhirVersion.R4))


def test_mcsd_searchset_resolves_entry_types() -> None:
    bundle = parse_resource(MCSD_SEARCHSET, FhirVersion.R4)
    assert [e.resource.get_resource_type() for e in bundle.entry] == [
        "Organization",
        "Endpoint",
        "HealthcareService",
    ]


def test_r4_shapes_fail_as_stu3_and_back() -> None:
    with pytest.raises(ModelValidationError):
        parse_resource(R4_TASK, FhirVersion.STU3)
