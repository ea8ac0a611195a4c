"""The BgZ query set: complete, well-formed, valid as STU3 Task inputs."""

from __future__ import annotations

import pytest

from twiin import naming
from twiin.fhir_version import FhirVersion
from twiin.usecases import bgz

EXPECTED_CODES = [
    "79191-3", "48768-6", "11291000146105", "11341000146107", "47420-5", "11450-4", "365508006",
    "228366006", "228273003", "365980008", "11816003", "75310-3", "48765-2", "422979000", "16076005",
    "422037009", "46264-8", "11369-6", "85354-9", "29463-7", "8302-2", "15220000", "47519-4", "46240-8",
    "18776-5", "18776-5", "18776-5", "18776-5", "77599-9",
]  # fmt: skip
STU3_ONLY = {"ProcedureRequest", "DeviceUseStatement"}


def test_set_has_29_queries_in_ta_order():
    assert len(bgz.QUERIES) == 29
    assert [q.code for q in bgz.QUERIES] == EXPECTED_CODES
    assert len({q.query for q in bgz.QUERIES}) == 29


def test_every_query_names_loinc_or_snomed_with_display():
    for q in bgz.QUERIES:
        assert q.system in (naming.LOINC_SYSTEM, naming.SNOMED_SYSTEM)
        assert q.display.strip()
        is_loinc = "-" in q.code
        assert (q.system == naming.LOINC_SYSTEM) is is_loinc, q.code


@pytest.mark.parametrize("query", bgz.QUERIES, ids=lambda q: q.query.split("?")[0] + ":" + q.code)
def test_each_query_parses_to_an_stu3_resource_type(query):
    parsed = bgz.parse_query(query.query)
    assert FhirVersion.STU3.model_class(parsed.resource_type) is not None
    assert parsed.operation in (None, "$lastn")
    for name, value in parsed.params:
        assert name
        assert value, name
        if name == "_include":
            assert value.split(":")[0] == parsed.resource_type


def test_set_is_stu3_specific():
    types = {q.resource_type for q in bgz.QUERIES}
    assert types >= STU3_ONLY


def test_every_category_is_used_and_each_query_has_one():
    used = {q.category for q in bgz.QUERIES}
    assert used == set(bgz.BgzCategory)
    assert len(bgz.by_category(bgz.BgzCategory.VITAL_SIGNS)) == 3
    assert len(bgz.by_category(bgz.BgzCategory.PLAN_OF_CARE)) == 4


def test_task_inputs_validate_as_stu3_task_inputs():
    inputs = bgz.to_task_inputs()
    assert len(inputs) == 29
    model = FhirVersion.STU3.model_class("Task")
    task = model.model_validate(
        {"resourceType": "Task", "status": "requested", "intent": "proposal", "input": inputs}
    )
    assert [i.valueString for i in task.input] == [q.query for q in bgz.QUERIES]
    assert task.input[0].type.coding[0].code == "79191-3"


def test_encoded_values_decode_to_system_and_code():
    consent = bgz.parse_query(bgz.QUERIES[2].query)
    assert consent.params == (("category", "http://snomed.info/sct|11291000146105"),)
    encounter = bgz.parse_query(bgz.QUERIES[23].query)
    assert encounter.params[0][1].split(",") == [
        "http://hl7.org/fhir/v3/ActCode|IMP",
        "http://hl7.org/fhir/v3/ActCode|ACUTE",
        "http://hl7.org/fhir/v3/ActCode|NONAC",
    ]


@pytest.mark.parametrize("bad", ["", "/Patient", "https://x/Patient", "patient", "Observation/123", "A/B/C"])
def test_parse_query_refuses_malformed(bad):
    with pytest.raises(ValueError):
        bgz.parse_query(bad)
