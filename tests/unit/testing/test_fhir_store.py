"""The in-memory FHIR store behind the sandbox: correct for what it supports, loud for the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twiin.fhir_version import FhirVersion
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore

BASE = "https://store.test/fhir"


@pytest.fixture
def server() -> FhirStoreServer:
    return FhirStoreServer(MemoryFhirStore(), FhirVersion.R4)


def call(server: FhirStoreServer, method: str, path: str, body: Any = None, **headers: str) -> Answer:
    data = json.dumps(body).encode() if body is not None else b""
    return server.handle(IncomingRequest(method, BASE + path, headers, data))


def org(ura: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": ura}],
        "name": name,
        **extra,
    }


def test_create_read_vread_update_with_if_match(server: FhirStoreServer) -> None:
    created = call(server, "POST", "/Organization", org("00000001", "Alpha"))
    assert created.status == 201
    assert created.headers["etag"] == 'W/"1"'
    rid = created.json_body()["id"]
    assert created.headers["location"] == f"Organization/{rid}/_history/1"
    body = created.json_body() | {"name": "Alpha 2"}
    assert call(server, "PUT", f"/Organization/{rid}", body, **{"If-Match": 'W/"1"'}).status == 200
    stale = call(server, "PUT", f"/Organization/{rid}", body, **{"If-Match": 'W/"1"'})
    assert stale.status == 412
    assert stale.json_body()["resourceType"] == "OperationOutcome"
    assert call(server, "GET", f"/Organization/{rid}/_history/1").json_body()["name"] == "Alpha"
    assert call(server, "GET", f"/Organization/{rid}").json_body()["meta"]["versionId"] == "2"


def test_delete_then_read_is_gone_and_history_shows_delete(server: FhirStoreServer) -> None:
    rid = call(server, "POST", "/Organization", org("1", "A")).json_body()["id"]
    assert call(server, "DELETE", f"/Organization/{rid}").status == 204
    assert call(server, "GET", f"/Organization/{rid}").status == 410
    history = call(server, "GET", "/Organization/_history").json_body()
    methods = [e["request"]["method"] for e in history["entry"]]
    assert methods == ["DELETE", "POST"]
    assert "lastUpdated" in history["meta"]


def test_history_since(server: FhirStoreServer) -> None:
    call(server, "POST", "/Organization", org("1", "A"))
    mark = call(server, "GET", "/Organization/_history").json_body()["meta"]["lastUpdated"]
    stamp_b = call(server, "POST", "/Organization", org("2", "B")).headers["last-modified"]
    later = call(server, "GET", f"/Organization/_history?_since={mark}").json_body()
    assert [e["resource"]["name"] for e in later["entry"]] == ["B"]
    at_b = call(server, "GET", f"/Organization/_history?_since={stamp_b}").json_body()
    assert [e["resource"]["name"] for e in at_b["entry"]] == ["B"]  # "at or after" the instant


def test_conditional_create_and_update(server: FhirStoreServer) -> None:
    cond = {"If-None-Exist": "identifier=http://fhir.nl/fhir/NamingSystem/ura|00000009"}
    first = call(server, "POST", "/Organization", org("00000009", "X"), **cond)
    again = call(server, "POST", "/Organization", org("00000009", "X"), **cond)
    assert (first.status, again.status) == (201, 200)
    assert first.json_body()["id"] == again.json_body()["id"]
    upd = call(
        server,
        "PUT",
        "/Organization?identifier=http://fhir.nl/fhir/NamingSystem/ura|00000009",
        org("00000009", "Y"),
    )
    assert upd.status == 200
    assert upd.json_body()["id"] == first.json_body()["id"]
    call(server, "POST", "/Organization", org("00000009", "dup"))
    multi = call(
        server,
        "PUT",
        "/Organization?identifier=http://fhir.nl/fhir/NamingSystem/ura|00000009",
        org("00000009", "Z"),
    )
    assert multi.status == 412


def test_search_include_revinclude_and_paging(server: FhirStoreServer) -> None:
    ep = call(
        server,
        "POST",
        "/Endpoint",
        {
            "resourceType": "Endpoint",
            "status": "active",
            "connectionType": {
                "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                "code": "hl7-fhir-rest",
            },
            "payloadType": [{"coding": [{"system": "urn:test", "code": "Twiin-TA-notification"}]}],
            "address": "https://gp.test/fhir",
        },
    ).json_body()
    parent = call(
        server,
        "POST",
        "/Organization",
        org("00000042", "GP", endpoint=[{"reference": f"Endpoint/{ep['id']}"}]),
    ).json_body()
    for i in range(5):
        call(
            server,
            "POST",
            "/Organization",
            org(f"{i}", f"Dept {i}", partOf={"reference": f"Organization/{parent['id']}"}),
        )
    res = call(
        server,
        "GET",
        "/Organization?identifier=http://fhir.nl/fhir/NamingSystem/ura|00000042&_include=Organization:endpoint",
    ).json_body()
    assert [e["search"]["mode"] for e in res["entry"]] == ["match", "include"]
    assert res["entry"][1]["resource"]["address"] == "https://gp.test/fhir"
    page1 = call(server, "GET", f"/Organization?partof=Organization/{parent['id']}&_count=2").json_body()
    assert page1["total"] == 5
    assert len(page1["entry"]) == 2
    nxt = next(link["url"] for link in page1["link"] if link["relation"] == "next")
    page2 = call(server, "GET", nxt.removeprefix(BASE)).json_body()
    assert {e["resource"]["id"] for e in page2["entry"]}.isdisjoint(
        {e["resource"]["id"] for e in page1["entry"]}
    )
    rev = call(server, "GET", f"/Endpoint?_id={ep['id']}&_revinclude=Organization:endpoint").json_body()
    assert len(rev["entry"]) == 2
    chained = call(
        server, "GET", "/Organization?partof.identifier=http://fhir.nl/fhir/NamingSystem/ura|00000042"
    ).json_body()
    assert chained["total"] == 5


def test_token_string_and_date_searches(server: FhirStoreServer) -> None:
    call(
        server,
        "POST",
        "/Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "effectiveDateTime": "2024-01-01T10:00:00+00:00",
            "subject": {"reference": "Patient/p1"},
        },
    )
    call(
        server,
        "POST",
        "/Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "effectiveDateTime": "2025-01-01T10:00:00+00:00",
            "subject": {"reference": "Patient/p1"},
        },
    )
    call(
        server,
        "POST",
        "/Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
            "effectiveDateTime": "2025-02-01T10:00:00+00:00",
            "subject": {"reference": "Patient/p2"},
        },
    )
    assert call(server, "GET", "/Observation?code=http://loinc.org|29463-7").json_body()["total"] == 2
    assert (
        call(server, "GET", "/Observation?code=8302-2,29463-7&patient=Patient/p1").json_body()["total"] == 2
    )
    assert call(server, "GET", "/Observation?date=gt2024-06-01").json_body()["total"] == 2
    lastn = call(
        server, "GET", "/Observation/$lastn?code=http://loinc.org|29463-7,http://loinc.org|8302-2"
    ).json_body()
    assert sorted(e["resource"]["effectiveDateTime"][:4] for e in lastn["entry"]) == ["2025", "2025"]
    compartment = call(server, "GET", "/Patient/p2/Observation").json_body()
    assert compartment["total"] == 1
    call(
        server,
        "POST",
        "/Patient",
        {"resourceType": "Patient", "name": [{"family": "Jansen", "given": ["Piet"]}]},
    )
    assert call(server, "GET", "/Patient?name=jans").json_body()["total"] == 1
    assert call(server, "GET", "/Patient?name:exact=jans").json_body()["total"] == 0


def test_unsupported_things_are_loud(server: FhirStoreServer) -> None:
    for path in (
        "/Observation?unknown-param=1",
        "/Observation/$everything",
        "/Organization?_sort=name",
        "/Organization?_include=Organization:nope",
    ):
        answer = call(server, "GET", path)
        assert answer.status == 400, path
        assert answer.json_body()["resourceType"] == "OperationOutcome"


def test_invalid_bodies_are_refused(server: FhirStoreServer) -> None:
    assert server.handle(IncomingRequest("POST", BASE + "/Organization", {}, b"{not json")).status == 400
    assert call(server, "POST", "/Organization", {"resourceType": "Patient"}).status == 400
    assert call(server, "POST", "/Organization", {"resourceType": "Organization", "bogus": 1}).status == 422


def test_transaction(server: FhirStoreServer) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": org("1", "A"), "request": {"method": "POST", "url": "Organization"}},
            {"resource": org("2", "B"), "request": {"method": "POST", "url": "Organization"}},
        ],
    }
    answer = call(server, "POST", "", bundle)
    assert answer.status == 200
    assert [e["response"]["status"] for e in answer.json_body()["entry"]] == ["201", "201"]
    assert call(server, "GET", "/Organization").json_body()["total"] == 2


def test_over_real_https(pki) -> None:  # type: ignore[no-untyped-def]
    from twiin._http import client_ssl_context, create_client, send, server_ssl_context
    from twiin.testing.server import serve

    store = FhirStoreServer(MemoryFhirStore(), FhirVersion.STU3)
    identity = pki.issue_server(ura="1")
    with serve(store, server_ssl_context(identity.credentials(), None)) as running:
        with create_client(ssl_context=client_ssl_context(None, pki.trust_anchors)) as client:
            url = running.url("/fhir/Patient")
            created = send(
                client,
                client.build_request("POST", url, json={"resourceType": "Patient", "gender": "female"}),
            )
            assert created.status_code == 201
            read = send(
                client,
                client.build_request(
                    "GET", running.url("/fhir/" + created.headers["location"].split("/_history")[0])
                ),
            )
            assert read.json()["gender"] == "female"


def test_router_picks_longest_prefix() -> None:
    from twiin.testing.router import Router

    router = Router(
        {
            "/fhir": lambda r: Answer(200, body=b"fhir"),
            "/fhir/Task": lambda r: Answer(200, body=b"task"),
            "token": lambda r: Answer(200, body=b"token"),
        }
    )
    assert router(IncomingRequest("GET", "https://x/fhir/Task/1")).body == b"task"
    assert router(IncomingRequest("GET", "https://x/fhir/Patient")).body == b"fhir"
    assert router(IncomingRequest("POST", "https://x/token")).body == b"token"
    assert router(IncomingRequest("GET", "https://x/fhirx")).status == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/Organization?name:fuzzy=a", 400),  # unknown string modifier
        ("/Organization?identifier:text=a", 400),  # token modifier the store does not know
        ("/Organization?active:missing=true", 400),
        ("/Observation?code.identifier=x", 400),  # chain on a non-reference parameter
        ("/Organization?partof.name=x", 400),  # chain other than .identifier
        ("/Observation?date=yesterday", 400),
        ("/Organization?_count=ten", 400),
        ("/Organization?_count=-1", 400),
        ("/Organization?_offset=x", 400),
        ("/Observation/$lastn?max=0", 400),
        ("/Organization/_history?_at=2024", 400),
        ("/Organization/_history?_since=not-a-date", 400),
        ("/Organization?_format=xml", 406),
        ("/Organization?_summary=count", 400),
        ("/Organization?_include:iterate=Organization:partof", 400),
        ("/NoSuchType", 404),
        ("/NoSuchType/1", 404),
        ("/Patient/p1/NoSuchType", 404),
        ("/Organization/x?_summary=true", 400),  # a read would silently ignore it
        ("/Organization/x/_history/1?_elements=name", 400),
    ],
)
def test_unsupported_requests_get_an_operation_outcome(
    server: FhirStoreServer, path: str, status: int
) -> None:
    call(server, "POST", "/Organization", org("1", "A"))
    answer = call(server, "GET", path)
    assert answer.status == status, path
    outcome = answer.json_body()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"


def test_xml_only_accept_is_refused(server: FhirStoreServer) -> None:
    assert call(server, "GET", "/Organization", Accept="application/fhir+xml").status == 406
    assert call(server, "GET", "/Organization", Accept="application/fhir+json; fhirVersion=4.0").status == 200


def test_count_zero_gives_the_total_without_a_next_link(server: FhirStoreServer) -> None:
    for i in range(3):
        call(server, "POST", "/Organization", org(str(i), f"Org {i}"))
    bundle = call(server, "GET", "/Organization?_count=0").json_body()
    assert bundle["total"] == 3
    assert bundle["entry"] == []
    assert [link["relation"] for link in bundle["link"]] == ["self"]


def test_reference_search_with_type_modifier_and_absolute_reference(server: FhirStoreServer) -> None:
    parent = call(server, "POST", "/Organization", org("42", "Parent")).json_body()["id"]
    call(server, "POST", "/Organization", org("43", "Child", partOf={"reference": f"Organization/{parent}"}))
    assert call(server, "GET", f"/Organization?partof:Organization={parent}").json_body()["total"] == 1
    assert call(server, "GET", f"/Organization?partof:Location={parent}").json_body()["total"] == 0
    absolute = f"{BASE}/Organization/{parent}"
    assert call(server, "GET", f"/Organization?partof={absolute}").json_body()["total"] == 1


def _patch(server: FhirStoreServer, path: str, ops: Any, **headers: str) -> Answer:
    body = json.dumps(ops).encode()
    hdrs = {"content-type": "application/json-patch+json", **headers}
    return server.handle(IncomingRequest("PATCH", BASE + path, hdrs, body))


def test_json_patch_with_if_match(server: FhirStoreServer) -> None:
    rid = call(server, "POST", "/Organization", org("1", "A")).json_body()["id"]
    ops = [{"op": "replace", "path": "/name", "value": "B"}]
    patched = _patch(server, f"/Organization/{rid}", ops, **{"if-match": 'W/"1"'})
    assert patched.status == 200
    assert patched.json_body()["name"] == "B"
    assert patched.headers["etag"] == 'W/"2"'
    assert _patch(server, f"/Organization/{rid}", ops, **{"if-match": 'W/"1"'}).status == 412
    failing = _patch(server, f"/Organization/{rid}", [{"op": "test", "path": "/name", "value": "A"}])
    assert failing.status == 422
    assert (
        _patch(server, f"/Organization/{rid}", [{"op": "replace", "path": "/id", "value": "x"}]).status == 422
    )
    invalid = _patch(server, f"/Organization/{rid}", [{"op": "add", "path": "/bogus", "value": 1}])
    assert invalid.status == 422
    assert _patch(server, "/Organization/nope", ops).status == 404
    fhirpath = server.handle(
        IncomingRequest(
            "PATCH", f"{BASE}/Organization/{rid}", {"content-type": "application/fhir+json"}, b"{}"
        )
    )
    assert fhirpath.status == 415
    assert fhirpath.json_body()["resourceType"] == "OperationOutcome"
    assert call(server, "GET", f"/Organization/{rid}").json_body()["name"] == "B"


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_failing_entry_rolls_back_a_transaction_but_not_a_batch(server: FhirStoreServer, kind: str) -> None:
    existing = call(server, "POST", "/Organization", org("1", "Before")).json_body()
    bundle = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": org("2", "New"), "request": {"method": "POST", "url": "Organization"}},
            {
                "resource": existing | {"name": "Changed"},
                "request": {"method": "PUT", "url": f"Organization/{existing['id']}"},
            },
            {
                "resource": {"resourceType": "Organization", "bogus": 1},
                "request": {"method": "POST", "url": "Organization"},
            },
        ],
    }
    answer = call(server, "POST", "", bundle)
    names = sorted(o["name"] for o in server.store.all_current("Organization"))
    if kind == "transaction":
        assert answer.status == 422
        assert answer.json_body()["resourceType"] == "OperationOutcome"
        assert names == ["Before"]
        assert len(server.store.history()) == 1
        assert call(server, "GET", f"/Organization/{existing['id']}").headers["etag"] == 'W/"1"'
    else:
        assert answer.status == 200
        assert [e["response"]["status"] for e in answer.json_body()["entry"]] == ["201", "200", "422"]
        assert names == ["Changed", "New"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("2024-06-01", ["day"]),  # the day as a range: the instant on it matches
        ("gt2024-06-01", ["next"]),  # after the whole day
        ("ge2024-06-01", ["day", "next"]),
        ("lt2024-06-01", ["before"]),
        ("le2024-06-01", ["before", "day"]),
        ("ne2024-06-01", ["before", "next"]),
        ("2024", ["before", "day", "next"]),
        ("eb2024-06-01T10:00:00Z", ["before"]),
        ("sa2024-06-01", ["next"]),
        ("2024-06-01T10:00:00Z", ["day"]),
    ],
)
def test_date_search_compares_ranges_at_their_precision(
    server: FhirStoreServer, query: str, expected: list[str]
) -> None:
    for ident, when in (
        ("before", "2024-05-31"),
        ("day", "2024-06-01T10:00:00Z"),
        ("next", "2024-06-02T00:00:00Z"),
    ):
        call(server, "POST", "/Observation", {
            "resourceType": "Observation", "status": "final", "id": ident,
            "code": {"text": ident}, "effectiveDateTime": when,
        })  # fmt: skip
    found = call(server, "GET", f"/Observation?date={query}&_sort=date").json_body()
    assert [e["resource"]["code"]["text"] for e in found["entry"]] == expected


def test_string_search_ignores_case_and_accents(server: FhirStoreServer) -> None:
    call(server, "POST", "/Organization", org("1", "Ziekenhuis Müller-Öztürk"))
    assert call(server, "GET", "/Organization?name=ziekenhuis muller").json_body()["total"] == 1
    assert call(server, "GET", "/Organization?name:contains=OZTURK").json_body()["total"] == 1
    assert call(server, "GET", "/Organization?name:exact=Ziekenhuis Muller-Ozturk").json_body()["total"] == 0


def test_formatting_parameters_are_accepted(server: FhirStoreServer) -> None:
    rid = call(server, "POST", "/Organization", org("1", "A")).json_body()["id"]
    assert call(server, "GET", "/Organization?_pretty=true&_format=json").json_body()["total"] == 1
    assert call(server, "GET", f"/Organization/{rid}?_format=application/fhir%2Bjson").status == 200
    assert call(server, "GET", f"/Organization/{rid}/_history/1?_pretty=false").status == 200


def test_a_read_only_server_refuses_writes() -> None:
    store = MemoryFhirStore()
    rid = store.create(org("1", "A")).id
    server = FhirStoreServer(store, FhirVersion.R4, read_only=True)
    assert call(server, "GET", f"/Organization/{rid}").status == 200
    assert call(server, "GET", "/Organization/_history").status == 200
    form = IncomingRequest(
        "POST",
        BASE + "/Organization/_search",
        {"content-type": "application/x-www-form-urlencoded"},
        b"name=A",
    )
    assert server.handle(form).json_body()["total"] == 1
    for method, path in (
        ("POST", "/Organization"),
        ("PUT", f"/Organization/{rid}"),
        ("DELETE", f"/Organization/{rid}"),
        ("POST", ""),
    ):
        answer = call(server, method, path, org("2", "B"))
        assert answer.status == 405, (method, path)
        assert answer.json_body()["resourceType"] == "OperationOutcome"
    assert [o["name"] for o in store.all_current("Organization")] == ["A"]
