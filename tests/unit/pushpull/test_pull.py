"""Direct Pull over respx: consent first (fail closed), scoping, paging, typed results, audit, parity."""

from __future__ import annotations

import inspect
import json
from urllib.parse import parse_qsl

import anyio
import pytest
import respx

from twiin.addressing import StaticAddressBook
from twiin.errors import (
    ConfigurationError,
    ConsentDenied,
    ConsentIndeterminate,
    EndpointNotFound,
    NotAuthorizedError,
    PagingError,
    ServerError,
)
from twiin.exchange.pull import AsyncDirectPuller, DirectPullCore, DirectPuller, scope_to_patient
from twiin.fhir_version import FhirVersion
from twiin.usecases import bgz

from .conftest import PATIENT, PEER, PEER_BASE, TOKEN, US, StaticBearer, address_book, fhir_response, outcome

BSN_TOKEN = PATIENT.to_token()


def searchset(resources, next_url=None):
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {"resourceType": "Bundle", "type": "searchset", "link": links,
            "entry": [{"resource": r} for r in resources]}  # fmt: skip


class Consent:
    """A consent check that permits the given resource types and records what it was asked."""

    def __init__(self, *permitted, error=None):
        self.permitted = set(permitted)
        self.error = error
        self.asked = []

    def __call__(self, request):
        self.asked.append(request)
        if self.error is not None:
            raise self.error
        return request.resource_type in self.permitted


class CountingResolver:
    def __init__(self):
        self.book = address_book()
        self.calls = 0

    def resolve(self, ura, payload_type, *, fhir_version=None):
        self.calls += 1
        return self.book.resolve(ura, payload_type, fhir_version=fhir_version)


def make_core(consent, auditor=None, **kw):
    auth = StaticBearer()
    resolver = CountingResolver()
    core = DirectPullCore(US, resolver, consent, auth_for=lambda ura, url: auth, auditor=auditor, **kw)
    return core, auth, resolver


def observations(request):
    params = dict(parse_qsl(request.url.query.decode()))
    if params.get("page") == "2":
        return fhir_response(200, searchset([{"resourceType": "Observation", "id": "o2"}]))
    if params.get("patient.identifier") != BSN_TOKEN:
        return fhir_response(400, outcome("required", "no patient"))
    return fhir_response(
        200, searchset([{"resourceType": "Observation", "id": "o1"}], f"{PEER_BASE}/Observation?page=2")
    )


@respx.mock
def test_permitted_pull_scopes_to_the_patient_and_follows_paging(auditor, sink):
    obs = respx.get(f"{PEER_BASE}/Observation").mock(side_effect=observations)
    pat = respx.get(f"{PEER_BASE}/Patient").respond(
        200,
        json=searchset(
            [{"resourceType": "Patient", "id": "p"}, {"resourceType": "Practitioner", "id": "gp"}]
        ),
    )
    consent = Consent("Observation", "Patient")
    core, _auth, _ = make_core(consent, auditor)
    with DirectPuller(core) as puller:
        result = puller.pull(
            PEER, PATIENT, ["Patient?_include=Patient:general-practitioner", "Observation?code=x"]
        )
    assert result.ok
    assert result.base_url == PEER_BASE
    assert result.version is FhirVersion.STU3  # the BgZ payload type fixes STU3
    assert [r.query.query for r in result.results] == ["Patient?_include=Patient:general-practitioner",
                                                       "Observation?code=x"]  # fmt: skip
    assert [r["id"] for r in result.for_query("Observation?code=x").resources] == ["o1", "o2"]
    assert len(result.for_query("Observation?code=x").pages) == 2
    assert {r["resourceType"] for r in result.resources()} == {"Patient", "Practitioner", "Observation"}
    assert dict(parse_qsl(pat.calls.last.request.url.query.decode()))["identifier"] == BSN_TOKEN
    assert obs.call_count == 2
    assert all(c.request.headers["authorization"] == f"Bearer {TOKEN}" for c in respx.calls)
    assert sorted(r.resource_type for r in consent.asked) == ["Observation", "Patient"]
    assert {(r.holder, r.requester) for r in consent.asked} == {(PEER, US)}
    actions = sink.actions()
    assert actions.count("pull.consent") == 2
    assert actions.count("pull.query") == 2
    assert actions[-1] == "pull"
    dump = json.dumps([e.to_dict() for e in sink.events])
    assert PATIENT.value not in dump
    assert TOKEN not in dump


@respx.mock
def test_results_repr_shows_no_bsn():
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": PATIENT.value}],
    }
    respx.get(f"{PEER_BASE}/Patient").respond(200, json=searchset([patient]))
    core, _, _ = make_core(Consent("Patient"))
    with DirectPuller(core) as puller:
        result = puller.pull(PEER, PATIENT, ["Patient"])
    assert result.resources("Patient")[0]["identifier"][0]["value"] == PATIENT.value
    assert "Patient" in repr(result.results[0])
    assert PATIENT.value not in repr(result) + repr(result.results)


@pytest.mark.parametrize("consent", [Consent(), Consent("Observation", error=ConsentIndeterminate("?"))])
def test_no_permit_sends_nothing_and_takes_no_token(consent, auditor, sink):
    core, auth, resolver = make_core(consent, auditor)
    with respx.mock(assert_all_called=False) as router, DirectPuller(core) as puller:
        route = router.route()
        result = puller.pull(PEER, PATIENT, ["Observation?code=x", "Condition"])
    assert not route.called
    assert auth.uses == 0
    assert resolver.calls == 0
    assert result.denied
    assert not result.ok
    assert result.base_url is None
    assert all(isinstance(r.error, ConsentDenied) for r in result.results)
    with pytest.raises(ConsentDenied) as err:
        result.raise_for_errors()
    assert err.value.resource_type == "Observation"
    assert [e.outcome for e in sink.events if e.action == "pull.consent"] == ["denied", "denied"]
    assert sink.events[-1].action == "pull"
    assert sink.events[-1].outcome == "denied"


@respx.mock
def test_partial_consent_sends_only_the_permitted_queries():
    obs = respx.get(f"{PEER_BASE}/Observation").mock(side_effect=observations)
    core, _, _ = make_core(Consent("Observation"))
    with DirectPuller(core) as puller:
        result = puller.pull(PEER, PATIENT, ["MedicationStatement?category=x", "Observation?code=x"])
    assert obs.call_count == 2
    assert len(respx.calls) == 2
    assert result.for_query("MedicationStatement?category=x").denied
    assert result.for_query("Observation?code=x").ok
    assert not result.denied
    assert [f.query.resource_type for f in result.failures] == ["MedicationStatement"]


@respx.mock
def test_wrong_token_is_a_typed_error_per_query():
    respx.get(f"{PEER_BASE}/Observation").mock(
        return_value=fhir_response(401, outcome("security", "bad token"))
    )
    core, _, _ = make_core(Consent("Observation"))
    with DirectPuller(core, retry=None) as puller:
        result = puller.pull(PEER, PATIENT, ["Observation?code=x"])
    error = result.results[0].error
    assert isinstance(error, NotAuthorizedError)
    assert error.status == 401
    assert PATIENT.value not in str(error)
    with pytest.raises(NotAuthorizedError):
        result.raise_for_errors()


@respx.mock
def test_server_error_keeps_the_outcome_and_other_queries_succeed():
    respx.get(f"{PEER_BASE}/Condition").mock(return_value=fhir_response(500, outcome("exception", "db down")))
    respx.get(f"{PEER_BASE}/Observation").mock(side_effect=observations)
    core, _, _ = make_core(Consent("Observation", "Condition"))
    with DirectPuller(core, retry=None) as puller:
        result = puller.pull(PEER, PATIENT, ["Condition", "Observation?code=x"])
    condition = result.for_query("Condition")
    assert isinstance(condition.error, ServerError)
    assert condition.error.operation_outcome.issue[0].diagnostics == "db down"
    assert result.for_query("Observation?code=x").ok


@respx.mock
def test_next_link_to_another_origin_is_refused():
    respx.get(f"{PEER_BASE}/Observation").respond(
        200,
        json=searchset(
            [{"resourceType": "Observation", "id": "o1"}], "https://evil.example/fhir/Observation"
        ),
    )
    core, _, _ = make_core(Consent("Observation"))
    with DirectPuller(core) as puller:
        result = puller.pull(PEER, PATIENT, ["Observation"])
    only = result.results[0]
    assert isinstance(only.error, PagingError)
    assert not result.ok
    assert len(respx.calls) == 1


@respx.mock
def test_without_patient_scope_queries_are_sent_as_given():
    route = respx.get(f"{PEER_BASE}/Observation").respond(200, json=searchset([]))
    core, _, _ = make_core(Consent("Observation"), patient_scope=None)
    with DirectPuller(core) as puller:
        assert puller.pull(PEER, PATIENT, ["Observation?code=x"]).ok
    assert route.calls.last.request.url.query.decode() == "code=x"


def test_scope_to_patient():
    assert scope_to_patient("Condition", PATIENT) == "Condition?patient.identifier=" + BSN_TOKEN.replace(
        ":", "%3A").replace("/", "%2F").replace("|", "%7C")  # fmt: skip
    assert scope_to_patient("Patient?_include=x", PATIENT).startswith("Patient?_include=x&identifier=")
    assert "patient.identifier=" in scope_to_patient("Observation/$lastn?max=3", PATIENT)


@pytest.mark.parametrize(
    "queries", [[], ["https://elsewhere.example/fhir/Patient"], ["patient?x=1"], ["A/b/c"]]
)
def test_malformed_queries_are_refused_before_anything(queries):
    consent = Consent("Patient")
    core, _, resolver = make_core(consent)
    with DirectPuller(core) as puller, pytest.raises(ConfigurationError):
        puller.pull(PEER, PATIENT, queries)
    assert consent.asked == []
    assert resolver.calls == 0


def test_unknown_holder_is_endpoint_not_found_and_audited(auditor, sink):
    core = DirectPullCore(US, StaticAddressBook({"organization": []}), Consent("Patient"), auditor=auditor)
    with DirectPuller(core) as puller, pytest.raises(EndpointNotFound):
        puller.pull(PEER, PATIENT, ["Patient"])
    assert sink.events[-1].action == "pull"
    assert sink.events[-1].outcome == "failure"


@respx.mock
def test_bgz_queries_are_accepted_and_named():
    respx.get(url__startswith=PEER_BASE).respond(200, json=searchset([]))
    core, _, _ = make_core(Consent(*{q.resource_type for q in bgz.QUERIES}))
    with DirectPuller(core) as puller:
        result = puller.pull(PEER, PATIENT, bgz.QUERIES[:3])
    assert result.ok
    assert [r.query.name for r in result.results] == [q.display for q in bgz.QUERIES[:3]]
    assert result.for_query(bgz.QUERIES[1]).query.query == bgz.QUERIES[1].query


@respx.mock
def test_async_pull_matches_sync(auditor, sink):
    respx.get(f"{PEER_BASE}/Observation").mock(side_effect=observations)
    core, _, _ = make_core(Consent("Observation"), auditor)

    async def run():
        async with AsyncDirectPuller(core) as puller:
            return await puller.pull(PEER, PATIENT, ["Observation?code=x", "MedicationStatement"])

    result = anyio.run(run)
    assert [r["id"] for r in result.for_query("Observation?code=x").resources] == ["o1", "o2"]
    assert result.for_query("MedicationStatement").denied
    assert sink.actions()[-1] == "pull"


def test_async_no_permit_sends_nothing():
    core, auth, _ = make_core(Consent())

    async def run():
        async with AsyncDirectPuller(core) as puller:
            return await puller.pull(PEER, PATIENT, ["Observation"])

    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        result = anyio.run(run)
    assert result.denied
    assert not route.called
    assert auth.uses == 0


def test_sync_and_async_facades_expose_the_same_methods():
    def public(cls):
        return {n for n, _ in inspect.getmembers(cls, callable) if not n.startswith("_")}

    assert public(DirectPuller) == public(AsyncDirectPuller)


@respx.mock
def test_debug_logging_leaks_no_bsn_or_token(caplog):
    respx.get(f"{PEER_BASE}/Observation").mock(side_effect=observations)
    respx.get(f"{PEER_BASE}/Condition").mock(return_value=fhir_response(401, outcome("security", "bad")))
    core, _, _ = make_core(Consent("Observation", "Condition"))
    with caplog.at_level("DEBUG"), DirectPuller(core, retry=None) as puller:
        result = puller.pull(PEER, PATIENT, ["Observation?code=x", "Condition"])
    assert not result.ok
    text = caplog.text + " ".join(str(r.error) for r in result.failures)
    assert "Observation" in caplog.text
    assert PATIENT.value not in text
    assert TOKEN not in text
