# ruff: noqa: E501  (one resource per line reads better in this data module)
"""Synthetic STU3 BgZ data for tests and the sandbox, and a patient-restricted store callback.

:func:`seed_bgz` fills a :class:`~twiin.testing.fhir_store.MemoryFhirStore` with valid STU3
resources for one patient so that every one of the 29 BgZ queries finds data (``Condition``
spans several pages). :func:`patient_store` turns a
:class:`~twiin.testing.fhir_store.FhirStoreServer` into the vendor store callback of
:class:`~twiin.exchange.notified_pull.pull_server.PullServer`: every search is restricted to the
patient of the authorization base, and reads outside that patient's data answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from twiin import naming
from twiin.identifiers import Bsn
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore

__all__ = ["patient_store", "seed_bgz"]

_SCT, _LOINC = naming.SNOMED_SYSTEM, naming.LOINC_SYSTEM
_ACT = "http://hl7.org/fhir/v3/ActCode"
_MED_CATEGORY = "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3"


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _obs(id_: str, subject: str, code: tuple[str, str], when: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": id_, "status": "final", "code": _cc(*code),
        "subject": {"reference": subject}, "effectiveDateTime": when, **extra,
    }  # fmt: skip


def bgz_resources(patient: Bsn, patient_id: str, *, conditions: int = 60) -> list[dict[str, Any]]:
    """Valid STU3 resources covering all 29 BgZ queries for one patient."""
    p = f"Patient/{patient_id}"
    subj = {"reference": p}
    x = patient_id
    out: list[dict[str, Any]] = [
        {"resourceType": "Practitioner", "id": f"{x}-gp", "name": [{"family": "Huisarts"}]},
        {"resourceType": "Patient", "id": patient_id, "identifier": [patient.to_dict()],
         "name": [{"family": "Test", "given": ["Pat"]}], "generalPractitioner": [{"reference": f"Practitioner/{x}-gp"}]},
        {"resourceType": "Organization", "id": f"{x}-insurer", "name": "Zorgverzekeraar"},
        {"resourceType": "Coverage", "id": f"{x}-cov", "status": "active", "beneficiary": subj,
         "payor": [{"reference": f"Organization/{x}-insurer"}]},
        {"resourceType": "Consent", "id": f"{x}-treat", "status": "active", "patient": subj,
         "category": [_cc(_SCT, "11291000146105")]},
        {"resourceType": "Consent", "id": f"{x}-will", "status": "active", "patient": subj,
         "category": [_cc(_SCT, "11341000146107")]},
        _obs(f"{x}-func", p, (_SCT, "364644000"), "2026-01-02", category=[_cc(_SCT, "118228005")]),
        _obs(f"{x}-living", p, (_SCT, "365508006"), "2026-01-03"),
        _obs(f"{x}-drugs", p, (_SCT, "228366006"), "2026-01-04"),
        _obs(f"{x}-alcohol", p, (_SCT, "228273003"), "2026-01-05"),
        _obs(f"{x}-tobacco", p, (_SCT, "365980008"), "2026-01-06"),
        {"resourceType": "NutritionOrder", "id": f"{x}-diet", "status": "active", "patient": subj,
         "dateTime": "2026-01-07"},
        {"resourceType": "Flag", "id": f"{x}-flag", "status": "active", "subject": subj, "code": _cc(_SCT, "13790000")},
        {"resourceType": "AllergyIntolerance", "id": f"{x}-allergy", "verificationStatus": "confirmed",
         "patient": subj, "code": _cc(_SCT, "91936005")},
        {"resourceType": "Medication", "id": f"{x}-med", "code": _cc("urn:oid:2.16.840.1.113883.2.4.4.10", "1234")},
        {"resourceType": "MedicationStatement", "id": f"{x}-use", "status": "active", "taken": "y", "subject": subj,
         "medicationReference": {"reference": f"Medication/{x}-med"}, "category": _cc(_MED_CATEGORY, "6")},
        {"resourceType": "MedicationRequest", "id": f"{x}-agreement", "intent": "order", "subject": subj,
         "medicationReference": {"reference": f"Medication/{x}-med"}, "category": _cc(_SCT, "16076005")},
        {"resourceType": "MedicationDispense", "id": f"{x}-admin", "subject": subj,
         "medicationReference": {"reference": f"Medication/{x}-med"}, "category": _cc(_SCT, "422037009")},
        {"resourceType": "Device", "id": f"{x}-device", "type": _cc(_SCT, "6012004")},
        {"resourceType": "DeviceUseStatement", "id": f"{x}-aid", "status": "active", "subject": subj,
         "device": {"reference": f"Device/{x}-device"}},
        {"resourceType": "Immunization", "id": f"{x}-vacc", "status": "completed", "notGiven": False,
         "primarySource": True, "patient": subj, "vaccineCode": _cc("urn:oid:2.16.840.1.113883.2.4.4.7", "1")},
        _obs(f"{x}-bp", p, (_LOINC, "85354-9"), "2026-01-08"),
        _obs(f"{x}-weight", p, (_LOINC, "29463-7"), "2026-01-09"),
        _obs(f"{x}-height", p, (_LOINC, "8302-2"), "2026-01-10"),
        {"resourceType": "Specimen", "id": f"{x}-specimen", "subject": subj},
        _obs(f"{x}-lab", p, (_LOINC, "2345-7"), "2026-01-11", category=[_cc(_SCT, "275711006")],
             specimen={"reference": f"Specimen/{x}-specimen"}),
        {"resourceType": "Procedure", "id": f"{x}-proc", "status": "completed", "subject": subj,
         "category": _cc(_SCT, "387713003")},
        {"resourceType": "Encounter", "id": f"{x}-enc", "status": "finished", "class": {"system": _ACT, "code": "IMP"},
         "subject": subj},
        {"resourceType": "ProcedureRequest", "id": f"{x}-plan", "status": "active", "intent": "plan",
         "subject": subj, "code": _cc(_SCT, "80146002")},
        {"resourceType": "ImmunizationRecommendation", "id": f"{x}-advice", "patient": subj,
         "recommendation": [{"date": "2026-02-01", "vaccineCode": _cc("urn:oid:2.16.840.1.113883.2.4.4.7", "1"),
                             "forecastStatus": _cc("http://hl7.org/fhir/immunization-recommendation-status", "due")}]},
        {"resourceType": "DeviceRequest", "id": f"{x}-devreq", "status": "active", "intent": _cc(
            "http://hl7.org/fhir/request-intent", "plan"), "subject": subj,
         "codeReference": {"reference": f"Device/{x}-device"}},
        {"resourceType": "Appointment", "id": f"{x}-appt", "status": "booked",
         "participant": [{"actor": subj, "status": "accepted"}]},
        {"resourceType": "DocumentReference", "id": f"{x}-doc", "status": "current", "subject": subj,
         "type": _cc(_LOINC, "11488-4"), "indexed": "2026-01-12T10:00:00+01:00",
         "content": [{"attachment": {"contentType": "application/pdf", "url": f"Binary/{x}-pdf"}}]},
    ]  # fmt: skip
    out += [
        {
            "resourceType": "Condition",
            "id": f"{x}-cond-{i}",
            "subject": subj,
            "code": _cc(_SCT, str(38341003 + i)),
        }
        for i in range(conditions)
    ]
    return out


def seed_bgz(store: MemoryFhirStore, patient: Bsn, patient_id: str = "p1", *, conditions: int = 60) -> int:
    """Store the BgZ data of one patient; returns the number of resources written."""
    resources = bgz_resources(patient, patient_id, conditions=conditions)
    for resource in resources:
        store.create(resource, id=resource["id"])
    return len(resources)


def _patient_id(store: MemoryFhirStore, patient: Bsn) -> str | None:
    found = store.search("Patient", [("identifier", patient.to_token())])
    return str(found[0]["id"]) if len(found) == 1 else None


def patient_store(server: FhirStoreServer) -> Callable[[IncomingRequest, Bsn], Answer]:
    """A vendor store callback answering only with ``patient``'s data (searches scoped, reads checked)."""

    def answer(request: IncomingRequest, patient: Bsn) -> Answer:
        patient_id = _patient_id(server.store, patient)
        if patient_id is None:
            return Answer.outcome(404, "not-found", "patient not known here")
        segments = [s for s in request.path[len(server.base_path) :].split("/") if s]
        if len(segments) == 2 and not segments[1].startswith("$"):
            if segments[0] == "Task" or _in_patient_data(server.store, segments[0], segments[1], patient_id):
                return server(request)
            return Answer.outcome(404, "not-found", "no such resource")
        scope = ("_id", patient_id) if segments[:1] == ["Patient"] else ("patient", f"Patient/{patient_id}")
        params = [(k, v) for k, v in request.query if k not in ("patient", "_id", "subject")] + [scope]
        parts = urlsplit(request.url)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
        scoped = IncomingRequest(request.method, url, request.headers, request.body, request.peer_certificate)
        return server(scoped)

    return answer


def _in_patient_data(store: MemoryFhirStore, type_: str, id_: str, patient_id: str) -> bool:
    if type_ == "Patient":
        return id_ == patient_id
    try:
        found = store.search(type_, [("_id", id_), ("patient", f"Patient/{patient_id}")])
    except Exception:
        return False
    return bool(found)
