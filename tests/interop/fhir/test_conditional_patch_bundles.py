"""Conditional create/update, JSON Patch, transaction and batch against the Medplum peer."""

from __future__ import annotations

import pytest

from twiin.errors import PreconditionFailedError
from twiin.fhir import BundleBuilder, FhirClient, SearchParams

pytestmark = pytest.mark.peer

URA = "http://fhir.nl/fhir/NamingSystem/ura"
TAGS = "urn:twiin:test"


def organization(tag: str, name: str = "Acme") -> dict:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": TAGS, "value": tag}],
        "name": name,
        "active": True,
    }


def test_conditional_create_returns_existing(fhir: FhirClient, tag: str) -> None:
    first = fhir.create(organization(tag), if_none_exist={"identifier": f"{TAGS}|{tag}"})
    assert first.status == 201
    second = fhir.create(
        organization(tag, "Other"), if_none_exist=SearchParams().where("identifier", f"{TAGS}|{tag}")
    )
    assert second.status == 200
    assert second.id == first.id
    assert second.resource.name == "Acme"
    found = fhir.search("Organization", {"identifier": f"{TAGS}|{tag}"})
    assert found.resource.total == 1


def test_conditional_update_creates_updates_and_refuses_ambiguity(fhir: FhirClient, tag: str) -> None:
    query = {"identifier": f"{TAGS}|{tag}"}
    created = fhir.conditional_update("Organization", query, organization(tag))
    assert created.status == 201
    updated = fhir.conditional_update("Organization", query, organization(tag, "Renamed"))
    assert updated.status == 200
    assert updated.id == created.id
    assert fhir.read("Organization", created.id).resource.name == "Renamed"
    fhir.create(organization(tag, "Duplicate"))
    with pytest.raises(PreconditionFailedError):
        fhir.conditional_update("Organization", query, organization(tag, "Again"))


def test_conditional_update_with_raw_query_string(fhir: FhirClient, tag: str) -> None:
    created = fhir.conditional_update("Organization", f"identifier={TAGS}|{tag}", organization(tag))
    assert created.status == 201


def test_json_patch(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(organization(tag))
    patched = fhir.patch(
        "Organization",
        created.id,
        [
            {"op": "replace", "path": "/name", "value": "Patched"},
            {"op": "add", "path": "/alias", "value": ["P"]},
        ],
        if_match=created.version_id,
    )
    assert patched.resource.name == "Patched"
    assert patched.resource.alias == ["P"]
    with pytest.raises(PreconditionFailedError):
        fhir.patch(
            "Organization",
            created.id,
            [{"op": "replace", "path": "/name", "value": "X"}],
            if_match=created.version_id,
        )


def test_transaction_correlates_entries_and_resolves_references(fhir: FhirClient, tag: str) -> None:
    builder = BundleBuilder("transaction")
    org_url = builder.create(organization(tag))
    endpoint = {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "payloadType": [{"text": "any"}],
        "address": "https://example.org/fhir",
        "managingOrganization": {"reference": org_url},
        "identifier": [{"system": TAGS, "value": tag}],
    }
    ep_url = builder.create(endpoint)
    builder.search("Organization", {"identifier": f"{TAGS}|{tag}"})
    result = fhir.transaction(builder)
    assert len(result) == 3
    assert result.ok
    org_entry = result.by_full_url(org_url)
    ep_entry = result.by_full_url(ep_url)
    assert org_entry.status == 201
    assert ep_entry.status == 201
    assert org_entry.id
    stored = fhir.read("Endpoint", ep_entry.id)
    assert stored.resource.managingOrganization.reference == f"Organization/{org_entry.id}"
    assert result.result.resource.type == "transaction-response"


def test_batch_reports_per_entry_failures(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(organization(tag))
    doomed = fhir.create(organization(tag, "Doomed"))
    builder = BundleBuilder("batch")
    builder.read("Organization", created.id)
    builder.read("Organization", "missing-" + tag)
    builder.update({**created.json, "name": "Batched"}, if_match=created.version_id)
    builder.delete("Organization", doomed.id)
    result = fhir.batch(builder.build())
    statuses = [e.status for e in result]
    assert statuses[0] == 200
    assert statuses[1] == 404
    assert statuses[2] == 200
    assert statuses[3] in (200, 204)
    assert result[2].version_id
    assert result[2].version_id != created.version_id
    assert not result.ok
    assert result[0].resource.id == created.id
    with pytest.raises(Exception, match="entry 1"):
        result.raise_for_errors()
