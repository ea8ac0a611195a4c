"""The sandbox's services over real mTLS: directory (live and synced), Mitz and a complete Notified Pull."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from twiin._http import client_ssl_context
from twiin.addressing import DirectoryCache, DirectorySync, LiveDirectory, SqliteDirectoryStore, SyncMode
from twiin.addressing import payload_types as pt
from twiin.consent import ConsentQuestion, DataCategory, Decision, MitzClient, ProfessionalId
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import EndpointNotFound, NotAuthorizedError
from twiin.fhir_version import FhirVersion
from twiin.identifiers import ProviderType, RoleCode, Ura
from twiin.naming import UZI_OID
from twiin.sandbox import GP, HOSPITAL, NO_CONSENT, PLACER, WITH_CONSENT, Sandbox
from twiin.sandbox.directory import ListedEndpoint, endpoint_resource, organization_resource
from twiin.sandbox.participants import Participant
from twiin.usecases import bgz

pytestmark = pytest.mark.e2e


def test_live_directory_resolves_the_participants(
    sandbox: Sandbox, gp_creds: Credentials, trust: TrustAnchors
) -> None:
    info = sandbox.info["participants"]
    context = client_ssl_context(gp_creds, trust)
    with LiveDirectory(sandbox.info["directory"], ssl_context=context) as live:
        [bgz_server] = live.resolve(HOSPITAL.ura, pt.BGZ_SERVER)
        [task_endpoint] = live.resolve(GP.ura, pt.TWIIN_TA_NOTIFICATION)
        [placer] = live.resolve(PLACER.ura, pt.ANY, fhir_version=FhirVersion.R4)
    assert bgz_server.address == info["hospital"]["fhir_base"]
    assert bgz_server.fhir_version is FhirVersion.STU3
    assert bgz_server.organization.name == HOSPITAL.name
    assert task_endpoint.address == info["gp"]["fhir_base"]
    assert placer.address == sandbox.info["placer"] == info["placer"]["fhir_base"]


def test_directory_resources_are_valid_r4(sandbox: Sandbox) -> None:
    for rtype in ("Organization", "Endpoint"):
        resources = sandbox.directory_store.all_current(rtype)
        assert len(resources) == 3
        for resource in resources:
            FhirVersion.R4.model_class(rtype).model_validate(resource)


def test_directory_requires_a_client_certificate(sandbox: Sandbox, trust: TrustAnchors) -> None:
    anonymous = client_ssl_context(None, trust)
    with httpx.Client(verify=anonymous) as client, pytest.raises((httpx.TransportError, ssl.SSLError)):
        client.get(sandbox.info["directory"] + "/Organization").raise_for_status()


def test_directory_is_read_only_for_clients(
    sandbox: Sandbox, gp_creds: Credentials, trust: TrustAnchors
) -> None:
    spoof = organization_resource(GP, [])
    with httpx.Client(verify=client_ssl_context(gp_creds, trust)) as client:
        answer = client.put(f"{sandbox.info['directory']}/Organization/gp", json=spoof)
    assert answer.status_code == 405
    assert answer.json()["resourceType"] == "OperationOutcome"
    stored = sandbox.directory_store.current("Organization", "gp")
    assert stored is not None
    assert stored.version_id == "1"  # unchanged


def test_directory_sync_is_incremental(
    sandbox: Sandbox, hospital_creds: Credentials, trust: TrustAnchors
) -> None:
    lab = Participant(
        "lab", Ura("66666666"), "900000006", "Sync Test Lab", ProviderType("V4"), FhirVersion.R4
    )
    first_address = "https://lab.sandbox.test/fhir"
    sandbox.directory_store.update(
        endpoint_resource(
            lab, ListedEndpoint("results", first_address, pt.LAB_RESULTS_SERVER, FhirVersion.R4)
        )
    )
    sandbox.directory_store.update(organization_resource(lab, ["lab-results"]))
    context = client_ssl_context(hospital_creds, trust)
    with (
        SqliteDirectoryStore.in_memory() as store,
        DirectorySync(store, query_directories=[sandbox.info["directory"]], ssl_context=context) as job,
    ):
        cache = DirectoryCache(store)
        first = job.run()
        assert first.ok, first.errors
        assert first.sources[0].mode is SyncMode.FULL
        assert first.counts()["Organization"].created == 4
        assert [e.address for e in cache.resolve(lab.ura, pt.LAB_RESULTS_SERVER)] == [first_address]
        assert (
            cache.resolve(GP.ura, pt.TWIIN_TA_NOTIFICATION)[0].address
            == sandbox.info["participants"]["gp"]["fhir_base"]
        )

        moved = "https://moved.lab.sandbox.test/fhir"
        sandbox.directory_store.update(
            endpoint_resource(lab, ListedEndpoint("results", moved, pt.LAB_RESULTS_SERVER, FhirVersion.R4))
        )
        second = job.run()
        assert second.ok, second.errors
        assert second.sources[0].mode is SyncMode.HISTORY
        assert second.counts()["Endpoint"].updated == 1
        assert [e.address for e in cache.resolve(lab.ura, pt.LAB_RESULTS_SERVER)] == [moved]

        sandbox.directory_store.delete("Organization", "lab")
        sandbox.directory_store.delete("Endpoint", "lab-results")
        third = job.run()
        assert third.ok, third.errors
        assert third.sources[0].mode is SyncMode.HISTORY
        assert third.counts()["Organization"].deleted == 1
        assert third.counts()["Endpoint"].deleted == 1
        assert cache.resolve(HOSPITAL.ura, pt.BGZ_SERVER)
        with pytest.raises(EndpointNotFound):
            cache.resolve(lab.ura, pt.LAB_RESULTS_SERVER)


def _question(patient: object) -> ConsentQuestion:
    return ConsentQuestion(
        patient=patient, holder_ura=HOSPITAL.ura, holder_type=HOSPITAL.provider_type, requester_ura=GP.ura,
        requester_type=GP.provider_type, professional=ProfessionalId(UZI_OID, "900000002"),
        role=RoleCode("01.015"), categories=(DataCategory.GGC002, DataCategory.GGC013),
    )  # fmt: skip


def test_mitz_permits_and_denies(sandbox: Sandbox, hospital_creds: Credentials, trust: TrustAnchors) -> None:
    with MitzClient(sandbox.info["mitz"], credentials=hospital_creds, trust=trust) as mitz:
        permit = mitz.check(_question(WITH_CONSENT))
        deny = mitz.check(_question(NO_CONSENT))
    assert permit.allowed()
    assert set(permit.decisions.values()) == {Decision.PERMIT}
    assert not deny.allowed()
    assert set(deny.decisions.values()) == {Decision.DENY}


def _notify(sandbox: Sandbox, patient: object) -> object:
    before = len(sandbox.accepted)
    receipt = sandbox.sender.notify(GP.ura, patient, bgz.QUERIES)
    assert receipt.status == 201
    assert len(sandbox.accepted) == before + 1
    return sandbox.accepted[-1]


def test_complete_notified_pull_with_consent(sandbox: Sandbox) -> None:
    asked = len(sandbox.mitz.requests)
    served = sandbox.network.served
    result = sandbox.puller.pull(_notify(sandbox, WITH_CONSENT))
    assert result.ok, [(r.step.target, r.error) for r in result.failures]
    queries = [r for r in result.results if r.step.kind == "query"]
    assert [r.step.target for r in queries] == [q.query for q in bgz.QUERIES]
    assert len(queries) == 29
    assert all(r.resources for r in queries)
    assert not any(r["id"].startswith("p2") for r in result.resources()), "another patient's data leaked"
    assert sandbox.network.served - served >= 29
    assert len(sandbox.mitz.requests) > asked, "the pull guard did not ask Mitz"
    trail = (sandbox.dir / "gp" / "gtk-audit.jsonl").read_text()
    assert WITH_CONSENT.value not in trail
    assert [json.loads(line)["action"] for line in trail.splitlines()].count("notified-pull.pull") >= 1


def test_pull_without_consent_is_refused(sandbox: Sandbox) -> None:
    served = sandbox.network.served
    result = sandbox.puller.pull(_notify(sandbox, NO_CONSENT))
    assert not result.ok
    queries = [r for r in result.results if r.step.kind == "query"]
    assert len(queries) == 29
    assert all(isinstance(r.error, NotAuthorizedError) and r.error.status == 403 for r in queries)
    assert all(r.resources == () for r in queries)
    assert sandbox.network.served == served
    denials = [e for e in sandbox.sender_audit.events if e.outcome == "denied"]
    assert denials
    assert all(e.detail == "no consent" for e in denials)


def test_built_in_gtks_resolve_through_the_live_directory(sandbox: Sandbox) -> None:
    assert sandbox.resolver is sandbox.network.resolver
    assert isinstance(sandbox.resolver, LiveDirectory)
    [task_endpoint] = sandbox.resolver.resolve(GP.ura, pt.TWIIN_TA_NOTIFICATION)
    assert task_endpoint.address == sandbox.info["participants"]["gp"]["fhir_base"]
