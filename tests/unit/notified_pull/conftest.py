from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twiin.exchange.notified_pull.task import PartyId, build_notification_task
from twiin.identifiers import Bsn, Ura
from twiin.usecases import bgz

SENDER = Ura("11111111")
RECEIVER = Ura("22222222")
PATIENT = Bsn("999999151")
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
"""Tasks are built "now": the receiver checks expiry against the wall clock (7-day validity)."""


@pytest.fixture
def task():
    return build_notification_task(
        sender=SENDER,
        receiver=RECEIVER,
        sending_system=PartyId("urn:ietf:rfc:3986", "urn:oid:2.16.840.1.113883.2.4.3.164.2.1"),
        patient=PATIENT,
        queries=bgz.QUERIES,
        reads=["Observation/lab-1"],
        authorization_base="b64-opaque-authorization-base",
        based_on="Task/wf-1",
        get_workflow_task=True,
        now=NOW,
    )


def defective_ta_example() -> dict:
    """A Task with the defects of the published TA example (identifier object, 'value')."""
    return {
        "resourceType": "Task",
        "groupIdentifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": "grp-1"},
        "identifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": "id-1"},
        "status": "requested",
        "intent": "proposal",
        "code": {
            "coding": [{"system": "http://fhir.nl/fhir/NamingSystem/TaskCode", "code": "pull-notification"}]
        },
        "restriction": {"period": {"end": "2023-10-14T15:36:05+02:00"}},
        "for": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999999151"}},
        "authoredOn": "2023-04-13T15:01:54+02:00",
        "requester": {
            "agent": {"identifier": {"system": "http://example.com/dummy", "value": "sending-system"}},
            "onBehalfOf": {"identifier": {"system": "http://example.com/dummy", "value": "sending-org"}},
        },
        "owner": {"identifier": {"system": "http://example.com/dummy", "value": "receiving-org"}},
        "input": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://fhir.nl/fhir/NamingSystem/TaskParameter",
                            "code": "authorization-base",
                        }
                    ]
                },
                "value": "c29tZS1iYXNl",
            },
            {
                "type": {
                    "coding": [
                        {"system": "http://fhir.nl/fhir/NamingSystem/TaskParameter", "code": "read-resource"}
                    ]
                },
                "valueReference": {"reference": "Observation/123456"},
            },
            {
                "type": {"coding": [{"system": "http://loinc.org", "code": "77599-9"}]},
                "valueString": "DocumentReference?status=current",
            },
        ],
    }
