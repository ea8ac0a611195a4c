"""CRUD, vread, ETag/If-Match and history against the Medplum peer (strict R4 validation)."""

from __future__ import annotations

import pytest

from twiin.errors import FHIRError, ModelValidationError, NotFoundError, PreconditionFailedError
from twiin.fhir import FhirClient, FhirVersion, parse_resource, serialize

pytestmark = pytest.mark.peer

URA = "http://fhir.nl/fhir/NamingSystem/ura"


def task(tag: str, status: str = "requested") -> dict:
    return {
        "resourceType": "Task",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{tag}"}],
        "status": status,
        "intent": "order",
        "requester": {"identifier": {"system": URA, "value": "12345678"}},
        "owner": {"identifier": {"system": URA, "value": "87654321"}},
        "authoredOn": "2024-05-01T10:00:00+02:00",
    }


def test_create_returns_id_version_and_location(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(task(tag))
    assert created.status == 201
    assert created.id
    assert created.version_id
    assert created.location is not None
    assert created.location.endswith(f"/Task/{created.id}/_history/{created.version_id}")
    assert created.etag == f'W/"{created.version_id}"'
    # Medplum version ids are UUIDs: opaque strings, never numbers
    assert not created.version_id.isdigit()
    assert created.resource.status == "requested"


def test_read_and_vread(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(task(tag))
    read = fhir.read("Task", created.id)
    assert read.resource.id == created.id
    assert read.version_id == created.version_id
    assert read.last_modified
    old = read.resource
    old.status = "accepted"
    updated = fhir.update(old, if_match=read.version_id)
    assert updated.version_id != created.version_id
    first = fhir.vread("Task", created.id, created.version_id)
    assert first.resource.status == "requested"
    assert fhir.read("Task", created.id).resource.status == "accepted"


def test_stale_if_match_gives_412_with_outcome(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(task(tag))
    body = created.json
    body["status"] = "accepted"
    fhir.update(body, if_match=created.version_id)
    body["status"] = "rejected"
    with pytest.raises(PreconditionFailedError) as info:
        fhir.update(body, if_match=created.version_id)
    err = info.value
    assert err.status == 412
    assert err.operation_outcome is not None
    assert err.method == "PUT"
    assert err.url is not None
    assert err.url.endswith(f"/Task/{created.id}")
    # the ETag form is accepted as well as the bare version id
    current = fhir.read("Task", created.id)
    ok = fhir.update(body, if_match=current.etag)
    assert ok.resource.status == "rejected"


def test_delete_then_read_is_not_found_and_delete_again_is_quiet(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(task(tag))
    assert fhir.delete("Task", created.id).status in (200, 204)
    with pytest.raises(NotFoundError) as info:
        fhir.read("Task", created.id)
    assert info.value.status in (404, 410)
    gone = fhir.delete("Task", created.id)
    assert gone.status in (200, 204, 404, 410)


def test_instance_history(fhir: FhirClient, tag: str) -> None:
    created = fhir.create(task(tag))
    body = created.json
    body["status"] = "accepted"
    fhir.update(body)
    history = fhir.history("Task", created.id)
    assert history.resource.type == "history"
    versions = [e.resource.meta.versionId for e in history.resource.entry]
    assert created.version_id in versions
    assert len(versions) == 2


def test_strict_peer_rejects_stu3_shape_with_typed_error(fhir: FhirClient, tag: str) -> None:
    stu3_task = task(tag)
    stu3_task["requester"] = {"agent": {"identifier": {"system": URA, "value": "12345678"}}}
    with pytest.raises(FHIRError) as info:
        fhir.create(stu3_task)
    assert info.value.status == 400
    assert "agent" in str(info.value)


def test_sdk_refuses_an_stu3_model_body_only_if_invalid_for_r4(fhir: FhirClient, tag: str) -> None:
    # an R4 model round-trips through the strict peer unchanged
    model = parse_resource(task(tag), FhirVersion.R4)
    created = fhir.create(model)
    assert created.resource.owner.identifier.value == "87654321"
    assert b'"87654321"' in serialize(created.resource)


def test_raw_mode_keeps_bytes_and_dicts(raw_fhir: FhirClient, tag: str) -> None:
    created = raw_fhir.create(task(tag))
    assert created.resource is None
    assert created.json["id"] == created.id
    read = raw_fhir.read("Task", created.id)
    assert read.resource is None
    assert read.raw.startswith(b"{")
    assert read.model().id == created.id


def test_unknown_resource_read_is_not_found(fhir: FhirClient) -> None:
    with pytest.raises(NotFoundError):
        fhir.read("Task", "does-not-exist-0000")


def test_malformed_json_from_caller_side_is_refused_by_peer(fhir: FhirClient, medplum_base_url: str) -> None:
    from twiin.fhir import RequestSpec

    spec = RequestSpec(
        "POST", f"{medplum_base_url}/Task", {"Content-Type": "application/fhir+json"}, b"{not json"
    )
    response = fhir.exchange(spec)
    assert response.status_code == 400
    with pytest.raises(FHIRError) as info:
        fhir.core.parse_result(response)
    assert "malformed" in str(info.value)
    with pytest.raises(ModelValidationError):
        parse_resource(b"{not json", FhirVersion.R4)
