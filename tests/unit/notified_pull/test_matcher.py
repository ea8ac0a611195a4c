"""Authorization-base enforcement: exactly the allowed reads and searches, nothing else."""

from __future__ import annotations

import pytest

from twiin.exchange.notified_pull.matcher import RequestMatcher, normalise
from twiin.usecases import bgz

BASE = "https://sender.example/fhir"


@pytest.fixture
def matcher():
    return RequestMatcher(
        reads=["Observation/lab-1"], queries=[q.query for q in bgz.QUERIES], base_path="/fhir"
    )


ALLOWED = [
    "/fhir/Observation/lab-1",
    "/fhir/Condition",
    f"{BASE}/Consent?category=http%3A%2F%2Fsnomed.info%2Fsct%7C11291000146105",
    "/fhir/Consent?category=http://snomed.info/sct|11291000146105",
    "/fhir/Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization",
    "/fhir/Appointment?status=proposed,booked,pending",
    "/fhir//Observation/$lastn?code=http://loinc.org%7C29463-7",
    "/fhir/Condition?_count=10",
    "/fhir/Immunization?status=completed&_offset=20&_count=20",
]


@pytest.mark.parametrize("target", ALLOWED)
def test_allowed_reads_and_searches_pass(matcher, target):
    result = matcher.match("GET", target)
    assert result.allowed, result.reason


REFUSED = [
    ("GET", "/fhir/Observation/lab-2", "other resource"),
    ("GET", "/fhir/Patient/other-patient", "other patient's record"),
    ("GET", "/fhir/Condition?patient=Patient/2", "added parameter"),
    ("GET", "/fhir/Immunization?status=not-done", "changed parameter"),
    ("GET", "/fhir/Immunization", "dropped parameter"),
    ("GET", "/fhir/Consent?category=http://snomed.info/sct|11341000146108", "changed code"),
    ("GET", "/fhir/Observation?code=http://loinc.org|29463-7", "operation removed"),
    ("GET", "/fhir/MedicationRequest", "not listed"),
    ("GET", "/other/Condition", "outside the base"),
    ("GET", "/fhir/Observation/../Patient", "dot segments"),
    ("POST", "/fhir/Condition", "write"),
    ("DELETE", "/fhir/Observation/lab-1", "delete"),
    ("GET", "/fhir/Condition?_count=10&_elements=id", "non-paging extra"),
    ("GET", "/fhir/?_getpages=abc", "unissued paging link"),
]


@pytest.mark.parametrize(("method", "target", "why"), REFUSED, ids=[r[2] for r in REFUSED])
def test_everything_else_is_refused(matcher, method, target, why):
    assert not matcher.match(method, target).allowed


def test_paging_links_issued_for_an_allowed_search_are_allowed(matcher):
    origin = matcher.match("GET", "/fhir/Condition").matched
    assert matcher.remember_page(f"{BASE}?_getpages=abc&_getpagesoffset=20", origin)
    assert matcher.match("GET", "/fhir?_getpages=abc&_getpagesoffset=20").allowed
    assert not matcher.match("GET", "/fhir?_getpages=abd&_getpagesoffset=20").allowed


def test_paging_links_are_not_remembered_for_other_origins(matcher):
    assert not matcher.remember_page(f"{BASE}?_getpages=x", normalise("Patient?name=x"))
    assert not matcher.match("GET", "/fhir?_getpages=x").allowed


def test_normal_form_is_order_and_encoding_insensitive():
    a = normalise("Observation/$lastn?code=http%3A%2F%2Floinc.org%7C1,http://loinc.org|2&b=1")
    b = normalise("/Observation/$lastn?b=1&code=http://loinc.org|2,http://loinc.org|1")
    assert a == b
