"""Searches (modifiers, chains, _include/_revinclude, _sort, _lastUpdated) and paging on the Medplum peer."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from twiin.errors import PagingError
from twiin.fhir import AsyncFhirClient, FhirClient, FhirVersion, SearchParams
from twiin.identifiers import Ura

pytestmark = pytest.mark.peer

TAGS = "urn:twiin:test"
CONNECTION = {
    "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
    "code": "hl7-fhir-rest",
}


def directory(fhir: FhirClient, tag: str, ura: str) -> tuple[str, str]:
    org = fhir.create(
        {
            "resourceType": "Organization",
            "identifier": [{"system": Ura.SYSTEM, "value": ura}, {"system": TAGS, "value": tag}],
            "name": f"Zorg {tag}",
        }
    )
    ep = fhir.create(
        {
            "resourceType": "Endpoint",
            "identifier": [{"system": TAGS, "value": tag}],
            "status": "active",
            "connectionType": CONNECTION,
            "payloadType": [{"text": "Twiin-TA-notification"}],
            "address": f"https://{tag}.example.org/fhir",
            "managingOrganization": {"reference": f"Organization/{org.id}"},
        }
    )
    fhir.patch(
        "Organization",
        org.id,
        [{"op": "add", "path": "/endpoint", "value": [{"reference": f"Endpoint/{ep.id}"}]}],
    )
    return org.id, ep.id


def test_token_search_with_identifier_value(fhir: FhirClient, tag: str) -> None:
    ura = Ura("00" + tag[:6].translate(str.maketrans("abcdef", "123456")))
    org_id, _ = directory(fhir, tag, ura.value)
    found = fhir.search(
        "Organization", SearchParams().where("identifier", ura).where("identifier", f"{TAGS}|{tag}")
    )
    assert [e.resource.id for e in found.resource.entry] == [org_id]


def test_contains_modifier_and_sort(fhir: FhirClient, tag: str) -> None:
    for name in ("b", "a", "c"):
        fhir.create(
            {
                "resourceType": "Organization",
                "name": f"{name}-{tag}",
                "identifier": [{"system": TAGS, "value": tag}],
            }
        )
    query = SearchParams().where("name", tag, modifier="contains").sort("-name")
    names = [o.name for o in fhir.iter_resources("Organization", query)]
    assert names == [f"c-{tag}", f"b-{tag}", f"a-{tag}"]


def test_chained_search(fhir: FhirClient, tag: str) -> None:
    _, ep_id = directory(fhir, tag, "00012345")
    query = SearchParams().chain(["organization", "identifier"], f"{TAGS}|{tag}")
    found = fhir.search("Endpoint", query)
    assert [e.resource.id for e in found.resource.entry] == [ep_id]


def test_include_and_revinclude(fhir: FhirClient, tag: str) -> None:
    org_id, ep_id = directory(fhir, tag, "00012346")
    inc = fhir.search(
        "Organization", SearchParams().where("identifier", f"{TAGS}|{tag}").include("Organization:endpoint")
    )
    modes = {(e.resource.get_resource_type(), e.search.mode) for e in inc.resource.entry}
    assert modes == {("Organization", "match"), ("Endpoint", "include")}
    rev = fhir.search(
        "Organization",
        SearchParams().where("identifier", f"{TAGS}|{tag}").revinclude("Endpoint:organization"),
    )
    ids = {e.resource.id for e in rev.resource.entry}
    assert ids == {org_id, ep_id}
    matches = list(
        fhir.iter_resources(
            "Organization",
            SearchParams().where("identifier", f"{TAGS}|{tag}").include("Organization:endpoint"),
            matches_only=True,
        )
    )
    assert [m.id for m in matches] == [org_id]


def test_last_updated_filter(fhir: FhirClient, tag: str) -> None:
    fhir.create({"resourceType": "Organization", "name": tag, "identifier": [{"system": TAGS, "value": tag}]})
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    base = SearchParams().where("identifier", f"{TAGS}|{tag}")
    assert len(list(fhir.iter_resources("Organization", base.last_updated(past, "gt")))) == 1
    assert list(fhir.iter_resources("Organization", base.last_updated(future, "gt"))) == []


def test_raw_query_string_escape_hatch(raw_fhir: FhirClient, tag: str) -> None:
    raw_fhir.create(
        {"resourceType": "Organization", "name": tag, "identifier": [{"system": TAGS, "value": tag}]}
    )
    page = raw_fhir.search("Organization", f"identifier={TAGS}|{tag}&_count=5")
    assert page.json["total"] == 1
    by_url = raw_fhir.search_url(f"Organization?identifier={TAGS}|{tag}")
    assert by_url.json["entry"][0]["resource"]["name"] == tag


def test_paging_follows_next_links(fhir: FhirClient, tag: str) -> None:
    for i in range(7):
        fhir.create(
            {
                "resourceType": "Organization",
                "name": f"{tag}-{i}",
                "identifier": [{"system": TAGS, "value": tag}],
            }
        )
    query = SearchParams().where("identifier", f"{TAGS}|{tag}").count(3).sort("name")
    pages = list(fhir.iter_pages("Organization", query))
    assert [len(p.resource.entry or []) for p in pages] == [3, 3, 1]
    names = [o.name for o in fhir.iter_resources("Organization", query)]
    assert names == [f"{tag}-{i}" for i in range(7)]


def test_paging_is_bounded_by_max_pages(medplum_base_url: str, tag: str) -> None:
    with FhirClient(medplum_base_url, FhirVersion.R4, max_pages=2) as fhir:
        for i in range(5):
            fhir.create(
                {
                    "resourceType": "Organization",
                    "name": f"{tag}-{i}",
                    "identifier": [{"system": TAGS, "value": tag}],
                }
            )
        query = SearchParams().where("identifier", f"{TAGS}|{tag}").count(2)
        with pytest.raises(PagingError):
            list(fhir.iter_pages("Organization", query))


def test_async_client_against_peer(medplum_base_url: str, tag: str) -> None:
    async def scenario() -> list[str]:
        async with AsyncFhirClient(medplum_base_url, FhirVersion.R4) as fhir:
            for i in range(4):
                await fhir.create(
                    {
                        "resourceType": "Organization",
                        "name": f"{tag}-{i}",
                        "identifier": [{"system": TAGS, "value": tag}],
                    }
                )
            created = await fhir.create({"resourceType": "Organization", "name": "single"})
            read = await fhir.read("Organization", created.id)
            assert read.version_id == created.version_id
            query = SearchParams().where("identifier", f"{TAGS}|{tag}").count(3).sort("name")
            return [o.name async for o in fhir.iter_resources("Organization", query)]

    assert anyio.run(scenario) == [f"{tag}-{i}" for i in range(4)]


def test_capabilities(fhir: FhirClient) -> None:
    caps = fhir.capabilities()
    assert caps.resource.fhirVersion == "4.0.1"
