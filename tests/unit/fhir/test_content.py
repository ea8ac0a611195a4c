"""parse_resource / serialize: JSON and XML, STU3 and R4, typed errors only."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twiin.errors import ModelValidationError, UnsafeXML
from twiin.fhir import FhirVersion, parse_resource, resource_type_of, serialize, to_dict
from twiin.fhir.content import is_xml, load_json

BSN = "999999151"
R4_TASK = {
    "resourceType": "Task",
    "id": "t1",
    "status": "requested",
    "intent": "order",
    "for": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSN}},
    "requester": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": "12345678"}},
}
STU3_TASK = {
    "resourceType": "Task",
    "id": "t1",
    "status": "requested",
    "intent": "order",
    "requester": {
        "agent": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": "12345678"}}
    },
}
TASK_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Task xmlns="http://hl7.org/fhir"><id value="t1"/><status value="requested"/><intent value="order"/></Task>'
)


@pytest.mark.parametrize("form", ["dict", "bytes", "str"])
def test_parse_json_forms(form: str) -> None:
    data = {"dict": R4_TASK, "bytes": json.dumps(R4_TASK).encode(), "str": json.dumps(R4_TASK)}[form]
    task = parse_resource(data, FhirVersion.R4)
    assert type(task).__module__ == "fhir.resources.R4B.task"
    assert task.requester.identifier.value == "12345678"


def test_versions_are_not_mixed() -> None:
    assert parse_resource(STU3_TASK, FhirVersion.STU3).requester.agent.identifier.value == "12345678"
    with pytest.raises(ModelValidationError) as info:
        parse_resource(STU3_TASK, FhirVersion.R4)
    assert "requester.agent" in str(info.value)
    with pytest.raises(ModelValidationError):
        parse_resource(R4_TASK, FhirVersion.STU3)


@pytest.mark.parametrize("version", [FhirVersion.STU3, FhirVersion.R4])
def test_parse_xml_both_versions(version: FhirVersion) -> None:
    task = parse_resource(TASK_XML, version, "application/fhir+xml; charset=utf-8")
    assert task.status == "requested"
    assert parse_resource(TASK_XML.decode(), version).id == "t1"  # sniffed without content type


@pytest.mark.parametrize("version", [FhirVersion.STU3, FhirVersion.R4])
def test_serialize_round_trip_json_and_xml(version: FhirVersion) -> None:
    task = parse_resource(TASK_XML, version)
    as_json = serialize(task)
    assert json.loads(as_json)["status"] == "requested"
    as_xml = serialize(task, "application/fhir+xml")
    assert as_xml.lstrip().startswith(b"<")
    assert parse_resource(as_xml, version).id == "t1"
    assert (
        parse_resource(serialize(to_dict(task), "application/fhir+xml", version=version), version).id == "t1"
    )


def test_serialize_dict_to_xml_needs_version() -> None:
    with pytest.raises(ModelValidationError):
        serialize({"resourceType": "Task"}, "application/fhir+xml")
    assert json.loads(serialize(R4_TASK)) == R4_TASK


def test_stu3_xml_keyerror_is_wrapped() -> None:
    # fhir.resources raises a bare KeyError('scope') for an R4-shaped Consent in STU3 XML
    xml = (
        b'<Consent xmlns="http://hl7.org/fhir"><status value="active"/>'
        b'<scope><coding><code value="patient-privacy"/></coding></scope>'
        b'<patient><reference value="Patient/1"/></patient></Consent>'
    )
    with pytest.raises(ModelValidationError) as info:
        parse_resource(xml, FhirVersion.STU3)
    assert info.value.raw == xml
    assert info.value.resource_type == "Consent"


def test_doctype_and_entities_refused() -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE Task [<!ENTITY x "boom">]>'
        b'<Task xmlns="http://hl7.org/fhir"><id value="&x;"/><status value="requested"/><intent value="order"/></Task>'
    )
    with pytest.raises(UnsafeXML):
        parse_resource(evil, FhirVersion.R4)
    external = b'<!DOCTYPE Task SYSTEM "http://example.org/x.dtd"><Task xmlns="http://hl7.org/fhir"/>'
    with pytest.raises(UnsafeXML):
        parse_resource(external, FhirVersion.R4)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"resourceType": 5}',
        b'{"resourceType": "NoSuchThing"}',
        b'{"resourceType": "../Task"}',
        b"<Task><status value='x'/></Task>",
        b"<unclosed",
        b'<Task xmlns="http://hl7.org/fhir"><bogus value="1"/></Task>',
    ],
)
def test_bad_payloads_raise_model_validation_error(payload: bytes) -> None:
    with pytest.raises(ModelValidationError):
        parse_resource(payload, FhirVersion.R4, "application/fhir+xml" if payload.startswith(b"<") else None)


def test_validation_messages_carry_no_input_values() -> None:
    bad = {**R4_TASK, "status": 12, "unknown": BSN}
    with pytest.raises(ModelValidationError) as info:
        parse_resource(bad, FhirVersion.R4)
    text = str(info.value) + repr(info.value)
    assert BSN not in text
    assert "status" in text
    assert "unknown" in text


def test_helpers() -> None:
    assert is_xml("application/fhir+xml")
    assert is_xml("text/xml; charset=utf-8")
    assert not is_xml("application/fhir+json", b"<x/>")
    assert is_xml(None, b"  <x/>")
    assert resource_type_of(parse_resource(R4_TASK, FhirVersion.R4)) == "Task"
    assert resource_type_of(R4_TASK) == "Task"
    with pytest.raises(ModelValidationError):
        resource_type_of({})
    with pytest.raises(ModelValidationError):
        load_json(b"\xff\xfe")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_only_raise_typed_errors(data: bytes) -> None:
    for version in (FhirVersion.STU3, FhirVersion.R4):
        try:
            parse_resource(data, version)
        except (ModelValidationError, UnsafeXML):
            pass


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["resourceType", "id", "status", "intent", "for", "meta", "input", "note"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=10),
            st.lists(st.integers(), max_size=2),
            st.just("Task"),
        ),
    )
)
def test_arbitrary_task_shapes_only_raise_typed_errors(data: dict) -> None:
    try:
        parse_resource(data, FhirVersion.R4)
    except ModelValidationError:
        pass
