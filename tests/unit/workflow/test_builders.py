"""Builders: every resource parses with fhir.resources R4B and passes twiin.validation."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.subscription import Subscription
from fhir.resources.R4B.task import Task

from twiin import naming
from twiin.errors import ExchangeError, IllegalTransition
from twiin.exchange.workflow import (
    AssignedId,
    Pattern,
    TaskKind,
    authorization_cancellation_request_task,
    cancellation_request_task,
    coordination_task,
    service_request,
    task_kind,
    workflow_subscription,
)
from twiin.identifiers import Ura
from twiin.validation import validate

from .conftest import AT, LOCATION_A, OWNER_A, PLACER, TASK_SYSTEM, WORK


def _valid(resource: dict[str, Any], model: Any) -> None:
    model.model_validate(resource)
    assert [str(i) for i in validate(resource)] == []


def _ct(pattern: Pattern = Pattern.SINGLE, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "service_request": "ServiceRequest/sr-1",
        "requester": PLACER,
        "owner": OWNER_A,
        "type_of_work": WORK,
        "authored_on": AT,
        "identifier_system": TASK_SYSTEM,
        "pattern": pattern,
        "patient": "Patient/p-1" if pattern is Pattern.SINGLE else None,
    }
    args.update(kw)
    return coordination_task(**args)


def test_service_request() -> None:
    sr = service_request(
        patient="Patient/p-1",
        instantiates="https://example.org/fhir/ActivityDefinition/transfer-of-care",
        code=WORK,
        authored_on=AT,
        requester=PLACER,
        identifier_system="https://placer.example.org/sr",
    )
    _valid(sr, ServiceRequest)
    assert sr["meta"]["profile"] == [naming.SD_WORKFLOW_SERVICE_REQUEST]
    assert sr["subject"] == {"reference": "Patient/p-1"}
    assert "performer" not in sr
    assert sr["authoredOn"] == "2026-10-09T07:00:00+00:00"
    assert sr["identifier"][0]["value"]  # opaque uuid


@pytest.mark.parametrize("bad", ["p-1", "Organization/1", "Patient/"])
def test_service_request_subject_must_be_a_patient(bad: str) -> None:
    with pytest.raises(ExchangeError):
        service_request(patient=bad, instantiates="https://x.org/AD/1", code=WORK, authored_on=AT)


def test_service_request_needs_a_canonical() -> None:
    with pytest.raises(ExchangeError):
        service_request(patient="Patient/1", instantiates=[], code=WORK, authored_on=AT)


def test_single_fulfiller_task() -> None:
    task = _ct(
        location=LOCATION_A,
        supplemental_resources=["Observation/o-1"],
        supplemental_queries=["Observation?code=x"],
    )
    _valid(task, Task)
    assert task["status"] == "requested"
    assert task["intent"] == "order"
    assert task["code"]["coding"][0]["system"] == naming.HL7_TASK_CODE_SYSTEM
    assert task["code"]["coding"][0]["code"] == "fulfill"
    assert task["for"] == {"reference": "Patient/p-1"}
    assert task["requester"]["identifier"] == {"system": naming.URA_SYSTEM, "value": "12345678"}
    owner = task["owner"]
    assert owner["type"] == "HealthcareService"
    assert owner["identifier"]["use"] == "official"
    assert owner["identifier"]["assigner"]["identifier"]["system"] == "urn:oid:2.16.528.1.1007.3.3"
    assert owner["identifier"]["assigner"]["identifier"]["value"] == "87654321"
    assert task["location"]["type"] == "Location"
    codes = [i["type"]["coding"][0]["code"] for i in task["input"]]
    assert codes == ["type-of-work", "supplemental-resource", "supplemental-query"]
    assert task_kind(task) is TaskKind.COORDINATION


def test_multiple_fulfillers_task_has_no_patient() -> None:
    task = _ct(Pattern.MULTIPLE)
    _valid(task, Task)
    assert task["code"]["coding"][0] == {
        "system": naming.CS_TA_WORKFLOW,
        "code": "request-fulfillment",
        "display": "Request fulfillment",
    }
    assert "for" not in task


def test_identifiers_are_unpredictable() -> None:
    first, second = _ct(), _ct()
    assert first["identifier"][0]["value"] != second["identifier"][0]["value"]
    assert first["identifier"][0]["system"] == TASK_SYSTEM


def test_multiple_fulfillers_refuses_patient_and_supplemental() -> None:
    with pytest.raises(ExchangeError, match="no patient"):
        _ct(Pattern.MULTIPLE, patient="Patient/p-1")
    with pytest.raises(ExchangeError, match="after selection"):
        _ct(Pattern.MULTIPLE, supplemental_resources=["Observation/1"])
    with pytest.raises(ExchangeError, match="after selection"):
        _ct(Pattern.MULTIPLE, supplemental_queries=["Observation?code=x"])


def test_single_fulfiller_needs_patient() -> None:
    with pytest.raises(ExchangeError):
        _ct(patient=None)


@pytest.mark.parametrize("query", ["https://other.example.org/fhir/Observation", "/Observation?x=1"])
def test_supplemental_query_is_relative(query: str) -> None:
    with pytest.raises(ExchangeError, match="relative"):
        _ct(supplemental_queries=[query])


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ExchangeError, match="timezone"):
        _ct(authored_on=datetime(2026, 1, 1))


def test_cancellation_request_task_only_while_in_progress() -> None:
    task = {**_ct(), "id": "t-1"}
    for status in ("requested", "accepted", "completed", "failed", "cancelled"):
        with pytest.raises(IllegalTransition):
            cancellation_request_task(
                {**task, "status": status}, authored_on=AT, identifier_system=TASK_SYSTEM
            )
    crt = cancellation_request_task(
        {**task, "status": "in-progress"}, authored_on=AT, identifier_system=TASK_SYSTEM, requester=PLACER
    )
    _valid(crt, Task)
    assert crt["code"]["coding"][0]["code"] == "abort"
    assert crt["focus"] == {"reference": "Task/t-1"}
    assert crt["owner"] == task["owner"]
    assert crt["input"] == [task["input"][0]]
    assert task_kind(crt) is TaskKind.CANCELLATION_REQUEST


def test_cancellation_request_needs_a_created_task() -> None:
    with pytest.raises(ExchangeError, match="no id"):
        cancellation_request_task(
            {**_ct(), "status": "in-progress"}, authored_on=AT, identifier_system=TASK_SYSTEM
        )


def test_authorization_cancellation_request_task() -> None:
    acrt = authorization_cancellation_request_task(
        service_request="ServiceRequest/sr-1",
        requester=Ura("87654321"),
        placer=PLACER,
        reason_text="Contraindication found for the requested service",
        authored_on=AT,
    )
    _valid(acrt, Task)
    assert acrt["intent"] == "proposal"
    assert acrt["status"] == "requested"
    assert acrt["requester"]["identifier"] == {"system": naming.URA_SYSTEM, "value": "87654321"}
    assert acrt["owner"]["identifier"] == {"system": naming.URA_SYSTEM, "value": "12345678"}
    assert acrt["statusReason"]["text"].startswith("Contraindication")
    assert task_kind(acrt) is TaskKind.AUTHORIZATION_CANCELLATION_REQUEST


def test_workflow_subscription() -> None:
    sub = workflow_subscription(
        topic="https://example.org/fhir/SubscriptionTopic/transfer-of-care",
        owner=OWNER_A,
        endpoint="https://fulfiller-a.example.org/fhir/notifications",
        heartbeat_period=3600,
        timeout=30,
    )
    _valid(sub, Subscription)
    criteria = sub["_criteria"]["extension"][0]
    assert criteria["url"] == naming.EXT_BACKPORT_FILTER_CRITERIA
    assert re.fullmatch(r"owner:identifier=[^| ]+[|][^| ]+", criteria["valueString"])
    assert (
        criteria["valueString"]
        == "owner:identifier=https://fulfiller-a.example.org/healthcareservice|wondzorg-thuis"
    )
    assert sub["channel"]["type"] == "rest-hook"
    assert sub["channel"]["extension"][0] == {
        "url": naming.EXT_BACKPORT_HEARTBEAT_PERIOD,
        "valueUnsignedInt": 3600,
    }
    assert sub["channel"]["_payload"]["extension"][0]["valueCode"] == "id-only"
    assert sub["status"] == "requested"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"topic": "https://example.org/fhir/Task?status=requested"}, "SubscriptionTopic"),
        ({"endpoint": "http://fulfiller-a.example.org/hook"}, "https"),
        ({"heartbeat_period": 0}, "heartbeat"),
        ({"payload": "text/plain"}, "payload"),
        ({"owner": AssignedId("https://x.org/hcs", "with space", Ura("1"))}, "spaces"),
    ],
)
def test_workflow_subscription_refusals(kw: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "topic": "https://example.org/fhir/SubscriptionTopic/transfer-of-care",
        "owner": OWNER_A,
        "endpoint": "https://fulfiller-a.example.org/fhir/notifications",
        "heartbeat_period": 60,
    }
    args.update(kw)
    with pytest.raises(ExchangeError, match=match):
        workflow_subscription(**args)


def test_assigned_id_round_trip_and_kvk_refusal() -> None:
    ident = OWNER_A.to_identifier()
    assert AssignedId.from_identifier(ident) == OWNER_A
    kvk = {**ident, "assigner": {"identifier": {"system": "http://kvk.nl", "value": "12345678"}}}
    with pytest.raises(ExchangeError, match="not a URA"):
        AssignedId.from_identifier(kvk)
    for broken in (None, {}, {"system": "x"}, {"system": "x", "value": "y", "assigner": {}}):
        with pytest.raises(ExchangeError):
            AssignedId.from_identifier(broken)
    with pytest.raises(ExchangeError):
        AssignedId("https://x.org|y", "v", Ura("1"))
