"""Notification Task: building, parsing (JSON/XML), element table, strict and lenient modes."""

from __future__ import annotations

import copy
import json

import pytest

from twiin import naming
from twiin.errors import NotificationError
from twiin.exchange.notified_pull.task import NotificationTask, build_notification_task
from twiin.exchange.notified_pull.task_parse import parse_notification_task
from twiin.fhir_version import FhirVersion
from twiin.usecases import bgz

from .conftest import PATIENT, RECEIVER, SENDER, defective_ta_example

STU3Task = FhirVersion.STU3.model_class("Task")


def test_built_task_validates_as_stu3_and_follows_element_table(task):
    data = task.to_fhir()
    model = STU3Task.model_validate(data)
    assert model.identifier[0].system == "urn:ietf:rfc:3986"
    assert model.identifier[0].value.startswith("urn:uuid:")
    assert model.groupIdentifier.value.startswith("urn:uuid:")
    assert model.basedOn[0].reference == "Task/wf-1"
    assert (model.status, model.intent) == ("requested", "proposal")
    assert (model.code.coding[0].system, model.code.coding[0].code) == (
        naming.TASK_CODE_SYSTEM,
        "pull-notification",
    )
    assert model.restriction.period.end is not None
    assert model.for_fhir.identifier.system == naming.BSN_SYSTEM
    assert model.authoredOn is not None
    assert model.requester.agent.identifier.value == "urn:oid:2.16.840.1.113883.2.4.3.164.2.1"
    assert model.requester.onBehalfOf.identifier.system == naming.URA_SYSTEM
    assert model.requester.onBehalfOf.identifier.value == SENDER.value
    assert model.owner.identifier.value == RECEIVER.value
    params = [(i.type.coding[0].system, i.type.coding[0].code) for i in model.input]
    assert params[:3] == [
        (naming.TASK_PARAMETER_SYSTEM, "authorization-base"),
        (naming.TASK_PARAMETER_SYSTEM, "get-workflow-task"),
        (naming.TASK_PARAMETER_SYSTEM, "read-resource"),
    ]
    assert model.input[0].valueString == "b64-opaque-authorization-base"
    assert model.input[1].valueBoolean is True
    assert model.input[2].valueReference.reference == "Observation/lab-1"
    assert [i.valueString for i in model.input[3:]] == [q.query for q in bgz.QUERIES]


def test_round_trip_json_and_xml(task):
    assert parse_notification_task(json.dumps(task.to_fhir()).encode()).task == task
    xml = STU3Task.model_validate(task.to_fhir()).model_dump_xml()
    parsed = parse_notification_task(xml, content_type="application/fhir+xml")
    assert parsed.task == task
    assert parsed.warnings == ()


def test_update_reuses_group_identifier(task):
    update = build_notification_task(
        sender=SENDER, receiver=RECEIVER, sending_system=task.requester_agent, patient=PATIENT,
        queries=bgz.QUERIES[:2], group_identifier=task.group_identifier,
    )  # fmt: skip
    assert update.group_identifier == task.group_identifier
    assert update.identifier != task.identifier


def test_repr_hides_authorization_base_and_bsn(task):
    text = repr(task)
    assert "b64-opaque" not in text
    assert PATIENT.value not in text


def test_xml_with_doctype_is_refused():
    xml = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Task xmlns="http://hl7.org/fhir"/>'
    with pytest.raises(NotificationError) as err:
        parse_notification_task(xml, content_type="application/fhir+xml")
    assert err.value.status == 400


def test_xml_with_a_late_external_doctype_is_refused():
    """A DOCTYPE behind a long comment (past any prefix sniffing) still never reaches a parser that loads it."""
    task = b'<Task xmlns="http://hl7.org/fhir"><status value="requested"/><intent value="order"/></Task>'
    xml = b"<!--" + b"x" * 8192 + b'--><!DOCTYPE Task SYSTEM "http://127.0.0.1:9/x.dtd">' + task
    with pytest.raises(NotificationError) as err:
        parse_notification_task(xml, content_type="application/fhir+xml")
    assert err.value.status == 400


def test_lenient_mode_accepts_published_example_defects_with_warnings():
    parsed = parse_notification_task(defective_ta_example(), lenient=True)
    messages = [(w.path, w.message) for w in parsed.warnings]
    assert ("Task.identifier", "identifier is an object; STU3 requires an array") in messages
    assert any(p == "Task.input[0]" and "'value'" in m for p, m in messages)
    assert any(p == "Task.owner.identifier" for p, _ in messages)
    assert any(p == "Task.requester.onBehalfOf.identifier" for p, _ in messages)
    task = parsed.task
    assert task.identifier == "id-1"
    assert task.authorization_base == "c29tZS1iYXNl"
    assert task.reads[0].reference == "Observation/123456"
    assert task.queries[0].query == "DocumentReference?status=current"
    assert task.owner_ura is None
    assert task.patient == PATIENT


def test_strict_mode_rejects_published_example_defects():
    with pytest.raises(NotificationError) as err:
        parse_notification_task(defective_ta_example())
    assert err.value.status == 400
    paths = {i.path for i in err.value.issues if i.severity == "error"}
    assert {"Task.identifier", "Task.input[0]"} <= paths


def _without(data, *path):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return data


def _with(data, value, *path):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def _issue_paths(data, status):
    with pytest.raises(NotificationError) as err:
        parse_notification_task(data)
    assert err.value.status == status
    assert err.value.issues
    return {i.path for i in err.value.issues if i.severity == "error"}


MISSING = [
    (("identifier",), "Task.identifier"),
    (("groupIdentifier",), "Task.groupIdentifier"),
    (("code",), "Task.code"),
    (("requester", "agent", "identifier"), "Task.requester.agent.identifier"),
    (("requester", "onBehalfOf"), "Task.requester.onBehalfOf.identifier"),
    (("owner",), "Task.owner.identifier"),
]


@pytest.mark.parametrize(("path", "expected"), MISSING, ids=[m[1] for m in MISSING])
def test_each_missing_required_element_is_reported(task, path, expected):
    assert expected in _issue_paths(_without(task.to_fhir(), *path), 422)


def test_missing_status_or_intent_is_a_structural_error(task):
    assert "Task.requester.agent" in _issue_paths(_without(task.to_fhir(), "requester", "agent"), 400)
    assert "Task.status" in _issue_paths(_without(task.to_fhir(), "status"), 400)
    assert "Task.intent" in _issue_paths(_without(task.to_fhir(), "intent"), 400)


WRONG = [
    ("in-progress", ("status",), "Task.status"),
    ("order", ("intent",), "Task.intent"),
    ({"coding": [{"system": naming.TASK_CODE_SYSTEM, "code": "other"}]}, ("code",), "Task.code"),
    ({"identifier": {"system": naming.URA_SYSTEM, "value": "abc"}}, ("owner",), "Task.owner.identifier"),
    ({"identifier": {"system": "urn:x", "value": "1"}}, ("owner",), "Task.owner.identifier"),
    ({"identifier": {"system": naming.BSN_SYSTEM, "value": "123456789"}}, ("for",), "Task.for.identifier"),
    ("yesterday", ("authoredOn",), "Task.authoredOn"),
    ([{"reference": "Task/a"}, {"reference": "Task/b"}], ("basedOn",), "Task.basedOn"),
]


@pytest.mark.parametrize(
    ("value", "path", "expected"), WRONG, ids=[w[2] + ":" + str(w[0])[:20] for w in WRONG]
)
def test_each_wrong_value_is_reported(task, value, path, expected):
    paths = _issue_paths(_with(task.to_fhir(), value, *path), 400 if expected == "Task.authoredOn" else 422)
    assert expected in paths


def test_wrong_inputs_are_reported(task):
    data = task.to_fhir()
    data["input"][0] = {"type": data["input"][0]["type"], "valueBoolean": True}
    data["input"][1] = {"type": data["input"][1]["type"], "valueString": "true"}
    data["input"][2] = {
        "type": data["input"][2]["type"],
        "valueReference": {"reference": "https://evil/Obs/1"},
    }
    data["input"][3] = {"type": data["input"][3]["type"], "valueString": "https://evil.example/Patient"}
    data["input"].append({"type": {"coding": [{"system": "urn:x", "code": "y"}]}, "valueString": "Patient"})
    data["input"].append(copy.deepcopy(task.to_fhir()["input"][0]))
    paths = _issue_paths(data, 422)
    assert {
        "Task.input[0]",
        "Task.input[1]",
        "Task.input[2]",
        "Task.input[3]",
        "Task.input[32]",
        "Task.input",
    } <= paths


def test_workflow_task_input_needs_based_on(task):
    assert "Task.basedOn" in _issue_paths(_without(task.to_fhir(), "basedOn"), 422)


def test_a_task_with_nothing_to_pull_is_refused(task):
    data = task.to_fhir()
    data["input"] = data["input"][:1]
    assert "Task.input" in _issue_paths(data, 422)


@pytest.mark.parametrize("body", [b"", b"[]", b"{not json", b'{"resourceType":"Patient"}', "x" * 2_000_000])
def test_unreadable_bodies_give_400_or_413(body):
    with pytest.raises(NotificationError) as err:
        parse_notification_task(body, content_type="application/fhir+json")
    assert err.value.status in (400, 413)


def test_issue_messages_never_carry_values(task):
    data = _with(task.to_fhir(), {"identifier": {"system": naming.BSN_SYSTEM, "value": "999999152"}}, "for")
    with pytest.raises(NotificationError) as err:
        parse_notification_task(data)
    assert "999999152" not in str(err.value)
    assert all("999999152" not in i.message for i in err.value.issues)


def test_notification_task_is_a_frozen_value(task):
    assert isinstance(task, NotificationTask)
    with pytest.raises(AttributeError):
        task.status = "cancelled"  # type: ignore[misc]
    assert task.cancellation().status == "cancelled"
