"""The BgZ (Basisgegevensset Zorg) query set for Notified Pull, as data.

Twenty-nine STU3 searches, each named by a LOINC or SNOMED CT concept, relative to the sending
system's FHIR base (TA Notified Pull example "additional information" notification). Each query
belongs to one BgZ data category. :func:`to_task_inputs` turns queries into STU3 ``Task.input``
elements for a Notification Task.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from twiin import naming

__all__ = [
    "QUERIES",
    "BgzCategory",
    "BgzQuery",
    "ParsedQuery",
    "by_category",
    "parse_query",
    "to_task_inputs",
]


class BgzCategory(enum.StrEnum):
    """The BgZ data categories (information sections of the Basisgegevensset Zorg)."""

    PATIENT = "patient"
    PAYER = "payer"
    TREATMENT_DIRECTIVE = "treatment-directive"
    ADVANCE_DIRECTIVE = "advance-directive"
    FUNCTIONAL_STATUS = "functional-status"
    PROBLEMS = "problems"
    LIVING_SITUATION = "living-situation"
    DRUG_USE = "drug-use"
    ALCOHOL_USE = "alcohol-use"
    TOBACCO_USE = "tobacco-use"
    NUTRITION = "nutrition"
    ALERTS = "alerts"
    ALLERGIES = "allergies"
    MEDICATION_USE = "medication-use"
    MEDICATION_AGREEMENTS = "medication-agreements"
    ADMINISTRATION_AGREEMENTS = "administration-agreements"
    MEDICAL_AIDS = "medical-aids"
    VACCINATIONS = "vaccinations"
    VITAL_SIGNS = "vital-signs"
    LAB_RESULTS = "lab-results"
    PROCEDURES = "procedures"
    ENCOUNTERS = "encounters"
    PLAN_OF_CARE = "plan-of-care"
    DOCUMENTS = "documents"


@attrs.frozen
class ParsedQuery:
    """A relative FHIR search split into resource type, optional operation and parameters."""

    resource_type: str
    operation: str | None
    params: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        """``Type`` or ``Type/$operation``."""
        return f"{self.resource_type}/{self.operation}" if self.operation else self.resource_type


def parse_query(query: str) -> ParsedQuery:
    """Split a relative search (``Observation/$lastn?code=...``) into its parts.

    Raises ``ValueError`` for an absolute URL, an empty or malformed path.
    """
    parts = urlsplit(query)
    if parts.scheme or parts.netloc or query.startswith("/"):
        raise ValueError("query must be relative to the FHIR base")
    segments = [s for s in parts.path.split("/") if s]
    if not segments or len(segments) > 2 or not segments[0].isalpha() or not segments[0][0].isupper():
        raise ValueError("query path must be Type or Type/$operation")
    operation = None
    if len(segments) == 2:
        if not segments[1].startswith("$"):
            raise ValueError("second path segment of a query must be an operation ($name)")
        operation = segments[1]
    params = tuple(parse_qsl(parts.query, keep_blank_values=True))
    return ParsedQuery(segments[0], operation, params)


@attrs.frozen
class BgzQuery:
    """One BgZ query: the concept naming it (system, code, display), its category and search."""

    system: str
    code: str
    display: str
    category: BgzCategory
    query: str

    @property
    def resource_type(self) -> str:
        """The resource type the search returns (before ``_include``)."""
        return parse_query(self.query).resource_type

    def to_task_input(self) -> dict[str, Any]:
        """This query as an STU3 ``Task.input`` (type = concept, ``valueString`` = search)."""
        return {
            "type": {"coding": [{"system": self.system, "code": self.code, "display": self.display}]},
            "valueString": self.query,
        }


_L, _S = naming.LOINC_SYSTEM, naming.SNOMED_SYSTEM
_SCT = "http%3A%2F%2Fsnomed.info%2Fsct%7C"
_ACT = "http://hl7.org/fhir/v3/ActCode|"
_C = BgzCategory

QUERIES: tuple[BgzQuery, ...] = (
    BgzQuery(_L, "79191-3", "Patient demographics panel", _C.PATIENT,
             "Patient?_include=Patient:general-practitioner"),
    BgzQuery(_L, "48768-6", "Payment sources Document", _C.PAYER,
             "Coverage?_include=Coverage:payor:Organization&_include=Coverage:payor:Patient"),
    BgzQuery(_S, "11291000146105", "Treatment instructions", _C.TREATMENT_DIRECTIVE,
             f"Consent?category={_SCT}11291000146105"),
    BgzQuery(_S, "11341000146107", "Living will and advance directive record", _C.ADVANCE_DIRECTIVE,
             f"Consent?category={_SCT}11341000146107"),
    BgzQuery(_L, "47420-5", "Functional status assessment note", _C.FUNCTIONAL_STATUS,
             f"Observation/$lastn?category={_SCT}118228005,{_SCT}384821006"),
    BgzQuery(_L, "11450-4", "Problem list - Reported", _C.PROBLEMS, "Condition"),
    BgzQuery(_S, "365508006", "Residence and accommodation circumstances", _C.LIVING_SITUATION,
             f"Observation/$lastn?code={_SCT}365508006"),
    BgzQuery(_S, "228366006", "Finding relating to drug misuse behavior", _C.DRUG_USE,
             f"Observation?code={_SCT}228366006"),
    BgzQuery(_S, "228273003", "Finding relating to alcohol drinking behavior", _C.ALCOHOL_USE,
             f"Observation?code={_SCT}228273003"),
    BgzQuery(_S, "365980008", "Tobacco use and exposure", _C.TOBACCO_USE,
             f"Observation?code={_SCT}365980008"),
    BgzQuery(_S, "11816003", "Diet education", _C.NUTRITION, "NutritionOrder"),
    BgzQuery(_L, "75310-3", "Health concerns Document", _C.ALERTS, "Flag"),
    BgzQuery(_L, "48765-2", "Allergies and adverse reactions Document", _C.ALLERGIES, "AllergyIntolerance"),
    BgzQuery(_S, "422979000", "Known medication use", _C.MEDICATION_USE,
             "MedicationStatement?category=urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3|6"
             "&_include=MedicationStatement:medication"),
    BgzQuery(_S, "16076005", "Known medication agreements", _C.MEDICATION_AGREEMENTS,
             f"MedicationRequest?category={_SCT}16076005&_include=MedicationRequest:medication"),
    BgzQuery(_S, "422037009", "Known administration agreements", _C.ADMINISTRATION_AGREEMENTS,
             f"MedicationDispense?category={_SCT}422037009&_include=MedicationDispense:medication"),
    BgzQuery(_L, "46264-8", "Known medical aids", _C.MEDICAL_AIDS,
             "DeviceUseStatement?_include=DeviceUseStatement:device"),
    BgzQuery(_L, "11369-6", "History of Immunization Narrative", _C.VACCINATIONS,
             "Immunization?status=completed"),
    BgzQuery(_L, "85354-9", "Blood pressure", _C.VITAL_SIGNS, "Observation/$lastn?code=http://loinc.org|85354-9"),
    BgzQuery(_L, "29463-7", "Body weight", _C.VITAL_SIGNS, "Observation/$lastn?code=http://loinc.org|29463-7"),
    BgzQuery(_L, "8302-2", "Body height", _C.VITAL_SIGNS,
             "Observation/$lastn?code=http://loinc.org|8302-2,http://loinc.org|8306-3,http://loinc.org|8308-9"),
    BgzQuery(_S, "15220000", "Laboratory test", _C.LAB_RESULTS,
             f"Observation/$lastn?category={_SCT}275711006"
             "&_include=Observation:related-target&_include=Observation:specimen"),
    BgzQuery(_L, "47519-4", "History of Procedures", _C.PROCEDURES, f"Procedure?category={_SCT}387713003"),
    BgzQuery(_L, "46240-8", "History of Hospitalizations+Outpatient visits", _C.ENCOUNTERS,
             f"Encounter?class={_ACT}IMP,{_ACT}ACUTE,{_ACT}NONAC"),
    BgzQuery(_L, "18776-5", "Plan of care note", _C.PLAN_OF_CARE, "ProcedureRequest?status=active"),
    BgzQuery(_L, "18776-5", "Plan of care note", _C.PLAN_OF_CARE, "ImmunizationRecommendation"),
    BgzQuery(_L, "18776-5", "Plan of care note", _C.PLAN_OF_CARE,
             "DeviceRequest?status=active&_include=DeviceRequest:device"),
    BgzQuery(_L, "18776-5", "Plan of care note", _C.PLAN_OF_CARE,
             "Appointment?status=booked,pending,proposed"),
    BgzQuery(_L, "77599-9", "Additional documentation", _C.DOCUMENTS, "DocumentReference?status=current"),
)  # fmt: skip


def by_category(category: BgzCategory, queries: Iterable[BgzQuery] = QUERIES) -> tuple[BgzQuery, ...]:
    """The queries of one data category."""
    return tuple(q for q in queries if q.category is category)


def to_task_inputs(queries: Sequence[BgzQuery] = QUERIES) -> list[dict[str, Any]]:
    """STU3 ``Task.input`` elements for ``queries`` (in order)."""
    return [q.to_task_input() for q in queries]
