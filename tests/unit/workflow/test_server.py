"""guard_task_write: the Placer's vetting of Task writes, request by request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twiin import naming
from twiin.exchange.workflow import guard_task_write
from twiin.exchange.workflow.server import MAX_TASK_BYTES
from twiin.fhir.content import serialize
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.serving import IncomingRequest

from . import examples as ex

PLACER = Ura(ex.PLACER_URA)
FULFILLER = Ura(ex.FULFILLER_A_URA)
URL = "https://placer.example.org/fhir/Task"


def stored() -> dict[str, Any]:
    return ex.ct_invited() | {"meta": {**ex.ct_invited()["meta"], "versionId": "3"}}


def call(
    method: str, body: Any, *, who: Ura = FULFILLER, if_match: str | None = 'W/"3"', current: Any = "default"
) -> Any:
    headers = {"If-Match": if_match} if if_match else {}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = IncomingRequest(method, URL, headers, raw)
    return guard_task_write(
        request, stored=stored() if current == "default" else current, requester_ura=who, placer_ura=PLACER
    )


def issues(answer: Any) -> str:
    return " ".join(i["diagnostics"] for i in answer.json_body()["issue"])


def test_a_good_update_passes() -> None:
    assert call("PUT", stored() | {"status": "accepted"}) is None
    assert call("PATCH", [{"op": "replace", "path": "/status", "value": "accepted"}]) is None


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"if_match": None}, 428),
        ({"if_match": 'W/"2"'}, 412),
        ({"who": Ura("99999999")}, 403),
        ({"current": None}, 404),
    ],
)
def test_refusals(kwargs: dict[str, Any], status: int) -> None:
    answer = call("PUT", stored() | {"status": "accepted"}, **kwargs)
    assert answer is not None
    assert answer.status == status


def test_business_rules_and_profile_errors_are_422() -> None:
    answer = call("PUT", stored() | {"priority": "stat"})
    assert answer.status == 422
    assert "wf-not-writable" in issues(answer)
    answer = call("PUT", stored() | {"status": "on-hold"}, who=PLACER)
    assert answer.status == 422
    assert "wf-status" in issues(answer)
    accepted = stored() | {"status": "accepted"}
    answer = call("PUT", {k: v for k, v in accepted.items() if k != "authoredOn"}, who=PLACER)
    assert answer.status == 422  # the Placer may not drop authoredOn either


def test_creates() -> None:
    assert call("POST", ex.acrt(), if_match=None) is None
    answer = call("POST", ex.ct_invited(), if_match=None)
    assert answer.status == 422
    assert call("POST", ex.acrt(), who=Ura("11223344"), if_match=None).status == 403


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("PUT", b"{not json", 400),
        ("PUT", {"resourceType": "Patient"}, 400),
        ("PATCH", {"op": "replace"}, 422),
        ("PATCH", [{"op": "test", "path": "/status", "value": "completed"}], 422),
        ("DELETE", b"", 405),
    ],
)
def test_malformed_requests(method: str, body: Any, status: int) -> None:
    assert call(method, body).status == status


def xml_call(body: bytes, *, who: Ura = FULFILLER) -> Any:
    headers = {"If-Match": 'W/"3"', "Content-Type": naming.FHIR_XML}
    request = IncomingRequest("PUT", URL, headers, body)
    return guard_task_write(request, stored=stored(), requester_ura=who, placer_ura=PLACER)


def test_xml_task_writes_are_vetted_like_json() -> None:
    good = serialize(stored() | {"status": "accepted"}, naming.FHIR_XML, version=FhirVersion.R4)
    assert xml_call(good) is None
    bad = serialize(stored() | {"priority": "stat"}, naming.FHIR_XML, version=FhirVersion.R4)
    assert "wf-not-writable" in issues(xml_call(bad))
    assert xml_call(good, who=Ura("99999999")).status == 403


@pytest.mark.parametrize(
    "body",
    [
        b"<Task xmlns='http://hl7.org/fhir'><status value='accepted'",
        b"<!DOCTYPE x [<!ENTITY e 'boom'>]><Task xmlns='http://hl7.org/fhir'><id value='&e;'/></Task>",
        b"<Task xmlns='http://example.org/not-fhir'/>",
    ],
)
def test_unreadable_or_hostile_xml_is_400(body: bytes) -> None:
    answer = xml_call(body)
    assert answer.status == 400
    assert "boom" not in answer.body.decode()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_an_oversized_body_is_413_unread(method: str) -> None:
    task = stored() | {"status": "accepted", "description": "x" * MAX_TASK_BYTES}
    answer = call(method, task)
    assert answer.status == 413
    small = call(method, stored() | {"description": "x" * 1000})
    assert small is None or small.status != 413
