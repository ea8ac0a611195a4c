"""The sans-I/O core: request specs for every interaction, STU3 payloads validated with fhir.resources.STU3."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from twiin._http.compat import httpx
from twiin._http.retry import RETRY_EXTENSION
from twiin.errors import ConfigurationError, UnsafeEndpoint
from twiin.fhir import BundleBuilder, FhirCore, FhirVersion, SearchParams, parse_resource
from twiin.identifiers import Bsn, Ura

BASE = "https://fhir.example.org/fhir"
STU3 = FhirCore(BASE + "/", FhirVersion.STU3)
R4 = FhirCore(BASE, FhirVersion.R4)
STU3_TASK = {
    "resourceType": "Task",
    "id": "t1",
    "status": "requested",
    "intent": "order",
    "code": {
        "coding": [{"system": "http://fhir.nl/fhir/NamingSystem/TaskCode", "code": "pull-notification"}]
    },
    "requester": {"agent": {"identifier": {"system": Ura.SYSTEM, "value": "12345678"}}},
    "for": {"identifier": {"system": Bsn.SYSTEM, "value": "999999151"}},
}


def stu3_valid(body: bytes | None) -> None:
    """Every STU3 payload the SDK builds must validate against fhir.resources.STU3."""
    assert body is not None
    parse_resource(body, FhirVersion.STU3)


def test_base_url_is_normalised_and_checked() -> None:
    assert STU3.base_url == BASE
    with pytest.raises(ConfigurationError):
        FhirCore("ftp://x/fhir")
    with pytest.raises(ConfigurationError):
        FhirCore("/relative")
    with pytest.raises(ConfigurationError):
        FhirCore(BASE, max_pages=0)


def test_read_vread_and_id_checks() -> None:
    assert STU3.read("Task", "t1").request.url == f"{BASE}/Task/t1"
    assert STU3.vread("Task", "t1", "0a9b-c").request.url == f"{BASE}/Task/t1/_history/0a9b-c"
    for bad in ("../x", "a/b", "", "x" * 65, "a?b"):
        with pytest.raises(ConfigurationError):
            STU3.read("Task", bad)
    with pytest.raises(ConfigurationError):
        STU3.read("task/../", "1")


def test_create_stu3_payload_validates_and_conditional_is_retry_safe() -> None:
    plain = STU3.create(STU3_TASK).request
    assert plain.method == "POST"
    assert plain.url == f"{BASE}/Task"
    assert RETRY_EXTENSION not in plain.extensions
    stu3_valid(plain.content)
    conditional = STU3.create(
        STU3_TASK, if_none_exist=SearchParams().where("identifier", Bsn("999999151"))
    ).request
    assert conditional.headers["If-None-Exist"] == "identifier=http://fhir.nl/fhir/NamingSystem/bsn|999999151"
    assert conditional.extensions[RETRY_EXTENSION] is True
    stu3_valid(conditional.content)


def test_create_from_model_serialises_the_model() -> None:
    model = parse_resource(STU3_TASK, FhirVersion.STU3)
    spec = STU3.create(model).request
    stu3_valid(spec.content)
    assert json.loads(spec.content or b"")["requester"]["agent"]["identifier"]["value"] == "12345678"


def test_update_and_if_match_forms() -> None:
    spec = STU3.update(STU3_TASK, if_match="17").request
    assert (spec.method, spec.url, spec.headers["If-Match"]) == ("PUT", f"{BASE}/Task/t1", 'W/"17"')
    stu3_valid(spec.content)
    assert STU3.update(STU3_TASK, if_match='W/"x-y"').request.headers["If-Match"] == 'W/"x-y"'
    assert STU3.update(STU3_TASK, if_match='"strong"').request.headers["If-Match"] == '"strong"'
    assert "If-Match" not in STU3.update(STU3_TASK).request.headers
    with pytest.raises(ConfigurationError):
        STU3.update({k: v for k, v in STU3_TASK.items() if k != "id"})


def test_conditional_update() -> None:
    spec = STU3.conditional_update("Task", {"identifier": "urn:ietf:rfc:3986|urn:uuid:1"}, STU3_TASK).request
    assert spec.method == "PUT"
    assert spec.url == f"{BASE}/Task?identifier=urn:ietf:rfc:3986|urn:uuid:1"
    stu3_valid(spec.content)
    with pytest.raises(ConfigurationError):
        STU3.conditional_update("Task", {}, STU3_TASK)
    with pytest.raises(ConfigurationError):
        STU3.conditional_update("Patient", {"identifier": "x"}, STU3_TASK)


def test_patch_spec() -> None:
    spec = R4.patch(
        "Task", "t1", [{"op": "replace", "path": "/status", "value": "accepted"}], if_match="3"
    ).request
    assert spec.headers["Content-Type"] == "application/json-patch+json"
    assert spec.headers["If-Match"] == 'W/"3"'
    with pytest.raises(ConfigurationError):
        R4.patch("Task", "t1", [{"path": "/status"}])


def test_history_and_search_urls() -> None:
    since = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert R4.history().request.url == f"{BASE}/_history"
    assert R4.history("Organization", since=since, count=50).request.url == (
        f"{BASE}/Organization/_history?_since=2024-01-01T00:00:00%2B00:00&_count=50"
    )
    assert R4.history("Task", "t1").request.url == f"{BASE}/Task/t1/_history"
    with pytest.raises(ConfigurationError):
        R4.history(None, "t1")
    assert R4.search("Task").request.url == f"{BASE}/Task"
    assert (
        R4.search("Task", "status=requested&_count=5").request.url == f"{BASE}/Task?status=requested&_count=5"
    )
    assert R4.search("Task", "?status=requested").request.url == f"{BASE}/Task?status=requested"
    for bad in ("a=b#frag", "a=b c", "a=b\r\nX: y"):
        with pytest.raises(ConfigurationError):
            R4.search("Task", bad)


def test_search_url_and_pager_entry_points() -> None:
    assert R4.search_url("Task?status=requested").request.url == f"{BASE}/Task?status=requested"
    assert R4.search_url(f"{BASE}/Task?a=1").request.url == f"{BASE}/Task?a=1"
    with pytest.raises(UnsafeEndpoint):
        R4.search_url("https://other.example.org/fhir/Task")
    with pytest.raises(UnsafeEndpoint):
        R4.search_url("http://fhir.example.org/fhir/Task")  # scheme downgrade is another origin
    assert R4.pager("Task", {"status": "requested"}).next_request().url == f"{BASE}/Task?status=requested"  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError):
        R4.pager("Task?x=1", {"y": 2})


def test_operation_specs() -> None:
    assert (
        R4.operation("$lastn", type="Observation", params={"max": 1}).request.url
        == f"{BASE}/Observation/$lastn?max=1"
    )
    assert R4.operation("meta").request.url == f"{BASE}/$meta"
    with pytest.raises(ConfigurationError):
        R4.operation("bad/name")
    with pytest.raises(ConfigurationError):
        R4.operation("x", id="1")
    with pytest.raises(ConfigurationError):
        R4.operation("x", body={"resourceType": "Parameters"})
    with pytest.raises(ConfigurationError):
        R4.operation("x", method="DELETE")  # type: ignore[arg-type]
    post = R4.operation(
        "events", type="Subscription", id="s1", method="POST", body={"resourceType": "Parameters"}
    )
    assert post.request.method == "POST"


def test_capabilities_spec() -> None:
    assert STU3.capabilities().request.url == f"{BASE}/metadata"


def test_stu3_bundle_builder_payloads_validate() -> None:
    builder = BundleBuilder("transaction", FhirVersion.STU3)
    task_url = builder.create(
        {k: v for k, v in STU3_TASK.items() if k != "id"}, if_none_exist={"identifier": "s|1"}
    )
    builder.update(STU3_TASK, if_match="2")
    builder.conditional_update("Task", {"identifier": "s|2"}, STU3_TASK)
    builder.patch("Task", "t1", [{"op": "replace", "path": "/status", "value": "cancelled"}])
    builder.delete("Task", "t9")
    builder.read("Task", "t1")
    builder.search("Task", SearchParams().where("status", "requested"))
    assert task_url.startswith("urn:uuid:")
    bundle = builder.model()
    assert type(bundle).__module__.startswith("fhir.resources.STU3")
    spec = STU3.bundle(builder, "transaction").request
    stu3_valid(spec.content)
    sent = json.loads(spec.content or b"")
    assert [e["request"]["method"] for e in sent["entry"]] == [
        "POST",
        "PUT",
        "PUT",
        "PATCH",
        "DELETE",
        "GET",
        "GET",
    ]
    assert sent["entry"][0]["request"]["ifNoneExist"] == "identifier=s|1"
    assert sent["entry"][1]["request"]["ifMatch"] == 'W/"2"'
    patch = sent["entry"][3]["resource"]
    assert json.loads(base64.b64decode(patch["content"])) == [
        {"op": "replace", "path": "/status", "value": "cancelled"}
    ]


def test_r4_bundle_builder_payloads_validate() -> None:
    builder = BundleBuilder("batch", FhirVersion.R4)
    builder.patch("Task", "t1", [{"op": "remove", "path": "/note"}])
    builder.search("Task")
    body = builder.build()
    assert body["entry"][0]["resource"]["data"]
    assert builder.model().type == "batch"
    assert len(builder) == 2
    with pytest.raises(ConfigurationError):
        R4.bundle(builder, "transaction")
    with pytest.raises(ConfigurationError):
        BundleBuilder("collection")  # type: ignore[arg-type]


def test_request_spec_to_httpx() -> None:
    request = STU3.create(STU3_TASK).request.to_httpx()
    assert isinstance(request, httpx.Request)
    assert request.headers["content-type"].startswith("application/fhir+json")
    assert request.content
