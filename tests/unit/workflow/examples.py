"""The TA Workflow IG example instances (spec/twiin-core.md §3.8), written by hand as R4 JSON dicts.

Hosts, identifiers, topic and ActivityDefinition URLs are the invented ones of the IG examples.
Every function returns a fresh dict.
"""

from __future__ import annotations

from typing import Any

WF = "https://fhir.twiin.nl/ig/workflow"
CS = WF + "/CodeSystem/ta-workflow"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
URA = "http://fhir.nl/fhir/NamingSystem/ura"
URA_OID = "urn:oid:2.16.528.1.1007.3.3"
PLACER_URA = "12345678"
FULFILLER_A_URA = "87654321"
FULFILLER_B_URA = "11223344"
PATIENT_ID = "3f6a2b8c-1d4e-4f7a-9b2c-5e8d1a7c4f90"
SR_ID = "0b7c5d0e-6f3a-4c2b-9e1d-8a4f2c6b3d75"
AUTHORED = "2026-10-09T09:00:00+02:00"
TASK_SYSTEM = "https://placer.example.org/task"


def assigned(system: str, value: str, ura: str, *, assigner_system: str = URA_OID) -> dict[str, Any]:
    return {
        "use": "official",
        "system": system,
        "value": value,
        "assigner": {
            "identifier": {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "custodian",
                        }
                    ]
                },
                "system": assigner_system,
                "value": ura,
            }
        },
    }


def owner_a() -> dict[str, Any]:
    return {
        "type": "HealthcareService",
        "identifier": assigned(
            "https://fulfiller-a.example.org/healthcareservice", "wondzorg-thuis", FULFILLER_A_URA
        ),
    }


def owner_b() -> dict[str, Any]:
    return {
        "type": "HealthcareService",
        "identifier": assigned(
            "https://fulfiller-b.example.org/healthcareservice", "wijkverpleging-noord", FULFILLER_B_URA
        ),
    }


def location_a() -> dict[str, Any]:
    return {
        "type": "Location",
        "identifier": assigned(
            "https://fulfiller-a.example.org/location", "vestiging-centrum", FULFILLER_A_URA
        ),
    }


def type_of_work() -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": CS, "code": "type-of-work"}]},
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]},
    }


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999999151"}],
        "name": [{"family": "Jansen", "given": ["Anna"]}],
    }


def service_request() -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": SR_ID,
        "meta": {"profile": [WF + "/StructureDefinition/twiin-workflow-servicerequest"]},
        "status": "active",
        "intent": "order",
        "instantiatesCanonical": ["https://example.org/fhir/ActivityDefinition/transfer-of-care"],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def _ct(task_id: str, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"profile": [WF + "/StructureDefinition/twiin-coordination-task"]},
        "identifier": [{"system": TASK_SYSTEM, "value": task_id}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": CS, "code": "request-fulfillment"}]},
        "focus": {"reference": f"ServiceRequest/{SR_ID}"},
        "authoredOn": AUTHORED,
        "requester": {"identifier": {"system": URA, "value": PLACER_URA}},
        "owner": owner_a(),
        "input": [type_of_work()],
    }
    task.update(extra)
    return task


def ct_invited() -> dict[str, Any]:
    """Task/6d2e9f41-…: requested, request-fulfillment, owner A, location A."""
    return _ct("6d2e9f41-8b3c-4a7d-b5e2-1c9f7a3d8e64", location=location_a())


def ct_selected() -> dict[str, Any]:
    """Task/a41c7e2b-…: accepted, businessStatus selected, code fulfill, for Patient, bid output."""
    return _ct(
        "a41c7e2b-5f9d-4e3a-8c6b-2d7f1e9a5b38",
        status="accepted",
        businessStatus={"coding": [{"system": CS, "code": "selected"}]},
        code={"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
        output=[{"type": {"text": "Bid"}, "valueString": "Available from 2026-10-12"}],
        **{"for": {"reference": f"Patient/{PATIENT_ID}"}},
    )


def ct_not_selected() -> dict[str, Any]:
    """Task/c8e3d5a7-…: cancelled, statusReason not-selected + text, owner B."""
    return _ct(
        "c8e3d5a7-2b4f-4d9e-a1c6-7f3b8e2d4a91",
        status="cancelled",
        statusReason={"coding": [{"system": CS, "code": "not-selected"}], "text": "not selected"},
        owner=owner_b(),
    )


def ct_in_progress() -> dict[str, Any]:
    """Task/e2f7a9c1-…: in-progress, fulfill, for Patient, executionPeriod.start, supplemental inputs."""
    return _ct(
        "e2f7a9c1-4d6b-4b8e-9a3f-6c1d5e8b2a47",
        status="in-progress",
        code={"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
        executionPeriod={"start": "2026-10-12T08:00:00+02:00"},
        input=[
            type_of_work(),
            {
                "type": {"coding": [{"system": CS, "code": "supplemental-resource"}]},
                "valueReference": {"reference": "Observation/3b1c2d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"},
            },
            {
                "type": {"coding": [{"system": CS, "code": "supplemental-query"}]},
                "valueString": f"Observation?patient={PATIENT_ID}&code=http://loinc.org|8302-2",
            },
        ],
        **{"for": {"reference": f"Patient/{PATIENT_ID}"}},
    )


def crt() -> dict[str, Any]:
    """Task/5b9d3e7f-…: requested Cancellation Request Task on the in-progress Task."""
    return {
        "resourceType": "Task",
        "id": "5b9d3e7f-1a2c-4f6e-8d4b-9e2a7c1f3b56",
        "meta": {"profile": [WF + "/StructureDefinition/twiin-cancellation-request-task"]},
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "abort"}]},
        "focus": {"reference": "Task/e2f7a9c1-4d6b-4b8e-9a3f-6c1d5e8b2a47"},
        "authoredOn": AUTHORED,
        "requester": {"identifier": {"system": URA, "value": PLACER_URA}},
        "owner": owner_a(),
        "input": [type_of_work()],
    }


def acrt() -> dict[str, Any]:
    """Task/9c4a1f8e-…: requested Authorization Cancellation Request Task from Fulfiller A."""
    return {
        "resourceType": "Task",
        "id": "9c4a1f8e-7d3b-4e2a-b6f9-3a8e5d2c7b14",
        "meta": {"profile": [WF + "/StructureDefinition/twiin-authorization-cancellation-request-task"]},
        "status": "requested",
        "statusReason": {"text": "Contraindication found for the requested service"},
        "intent": "proposal",
        "code": {"coding": [{"system": TASK_CODE, "code": "abort"}]},
        "focus": {"reference": f"ServiceRequest/{SR_ID}"},
        "authoredOn": AUTHORED,
        "requester": {"identifier": {"system": URA, "value": FULFILLER_A_URA}},
        "owner": {"identifier": {"system": URA, "value": PLACER_URA}},
    }
