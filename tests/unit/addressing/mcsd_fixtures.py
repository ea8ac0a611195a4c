"""mCSD fixtures written for these tests from the GF addressing profiles (nl-gf-*).

The network: an LRZa root listing three care providers with their Administration Directories;
two honest providers (a GP practice and a hospital with a department and HealthcareServices)
and one spoofing provider that claims another provider's URA.
"""

from __future__ import annotations

from typing import Any

from twiin.addressing import payload_types as pt

from .fakes import FakeDirectory, Network

URA = "http://fhir.nl/fhir/NamingSystem/ura"
KVK = "http://fhir.nl/fhir/NamingSystem/kvk"
PROFILE = "http://nuts-foundation.github.io/nl-generic-functions-ig/StructureDefinition/"
CONN = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"

LRZA = "https://lrza.test/fhir"
LINDE = "https://dir.linde.test/fhir"
OOST = "https://dir.oost.test/fhir"
SPOOF = "https://dir.spoof.test/fhir"

URA_LINDE = "11111111"
URA_OOST = "22222222"
URA_SPOOF = "33333333"


def author(system: str, value: str) -> dict[str, Any]:
    return {
        "identifier": {
            "system": system,
            "value": value,
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "code": "author",
                    }
                ]
            },
        }
    }


def organization(
    rid: str,
    name: str,
    *,
    ura: str | None = None,
    part_of: str | None = None,
    endpoints: tuple[str, ...] = (),
    lrza: bool = False,
    active: bool | None = None,
    type_code: str = "V4",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": rid,
        "meta": {"profile": [PROFILE + ("nl-gf-organization-lrza" if lrza else "nl-gf-organization")]},
        "identifier": [],
        "name": name,
        "type": [
            {
                "coding": [
                    {"system": "http://nictiz.nl/fhir/NamingSystem/organization-type", "code": type_code}
                ]
            }
        ],
    }
    if ura:
        ident: dict[str, Any] = {"system": URA, "value": ura}
        if lrza:
            ident["assigner"] = author(KVK, "50000535")
        resource["identifier"].append(ident)
    resource["identifier"].append({"system": "https://local.test/departments", "value": rid})
    if part_of:
        resource["partOf"] = {"reference": f"Organization/{part_of}"}
    if endpoints:
        resource["endpoint"] = [{"reference": f"Endpoint/{e}"} for e in endpoints]
    if active is not None:
        resource["active"] = active
    return resource


def endpoint(
    rid: str,
    address: str,
    *payloads: pt.PayloadType,
    status: str = "active",
    connection: str = "hl7-fhir-rest",
    mime: str = "application/fhir+json",
) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "id": rid,
        "meta": {"profile": [PROFILE + "nl-gf-endpoint"]},
        "status": status,
        "connectionType": {"system": CONN, "code": connection},
        "payloadType": [{"coding": [p.to_coding()]} for p in payloads],
        "payloadMimeType": [mime],
        "managingOrganization": {"identifier": {"system": KVK, "value": "51494752"}},
        "address": address,
        "name": rid,
    }


def service(
    rid: str, name: str, provided_by: str, *, endpoints: tuple[str, ...] = (), active: bool = True
) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": rid,
        "meta": {"profile": [PROFILE + "nl-gf-healthcareservice"]},
        "active": active,
        "providedBy": {"reference": f"Organization/{provided_by}"},
        "name": name,
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "11429006"}]}],
        "specialty": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.7", "code": "0306"}]}],
        "endpoint": [{"reference": f"Endpoint/{e}"} for e in endpoints],
    }


def location(rid: str, managing: str) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": rid,
        "status": "active",
        "name": rid,
        "managingOrganization": {"reference": f"Organization/{managing}"},
    }


def practitioner_role(rid: str, org: str, practitioner: str) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "organization": {"reference": f"Organization/{org}"},
        "practitioner": {"reference": f"Practitioner/{practitioner}"},
        "code": [{"coding": [{"system": "http://fhir.nl/fhir/NamingSystem/uzi-rolcode", "code": "01.015"}]}],
    }


def practitioner(rid: str) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": rid, "name": [{"family": "Jansen"}]}


def lrza_directory() -> FakeDirectory:
    d = FakeDirectory(LRZA)
    d.put(
        endpoint("lrza-e1", LINDE, pt.ADMIN_DIRECTORY),
        endpoint("lrza-e2", OOST, pt.ADMIN_DIRECTORY),
        endpoint("lrza-e3", SPOOF, pt.ADMIN_DIRECTORY),
        organization(
            "lrza-o1",
            "Huisartsenpraktijk De Linde",
            ura=URA_LINDE,
            endpoints=("lrza-e1",),
            lrza=True,
            type_code="Z3",
        ),
        organization("lrza-o2", "Ziekenhuis Oost", ura=URA_OOST, endpoints=("lrza-e2",), lrza=True),
        organization("lrza-o3", "Schimmig BV", ura=URA_SPOOF, endpoints=("lrza-e3",), lrza=True),
    )
    return d


def linde_directory() -> FakeDirectory:
    d = FakeDirectory(LINDE)
    d.put(
        endpoint(
            "notify",
            "https://np.linde.test/fhir",
            pt.TWIIN_TA_NOTIFICATION,
            mime="application/fhir+json; fhirVersion=3.0",
        ),
        endpoint("bgz", "https://bgz.linde.test/fhir", pt.BGZ_SERVER),
        organization(
            "linde", "De Linde (local name)", ura=URA_LINDE, endpoints=("notify", "bgz"), type_code="Z3"
        ),
        practitioner("p1"),
        practitioner_role("pr1", "linde", "p1"),
    )
    return d


def oost_directory() -> FakeDirectory:
    d = FakeDirectory(OOST)
    d.put(
        endpoint(
            "r4-notify",
            "https://fhir.oost.test/r4",
            pt.TWIIN_TA_NOTIFICATION,
            mime="application/fhir+json; fhirVersion=4.0",
        ),
        endpoint(
            "stu3-notify",
            "https://fhir.oost.test/stu3",
            pt.TWIIN_TA_NOTIFICATION,
            pt.EOVERDRACHT_SERVER,
            mime="application/fhir+json; fhirVersion=3.0",
        ),
        endpoint("cardio-notify", "https://cardio.oost.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        endpoint("uro-bgz", "https://uro.oost.test/fhir", pt.BGZ_SERVER),
        endpoint("pacs", "https://pacs.oost.test/wado", pt.ANY, connection="dicom-wado-rs"),
        endpoint("old", "https://old.oost.test/fhir", pt.BGZ_SERVER, status="off"),
        organization(
            "oost",
            "Ziekenhuis Oost (local)",
            ura=URA_OOST,
            endpoints=("r4-notify", "stu3-notify", "pacs", "old"),
        ),
        organization("cardio", "Cardiologie", part_of="oost", endpoints=("cardio-notify",)),
        service("uro", "Urologie", "cardio", endpoints=("uro-bgz",)),
        location("loc1", "oost"),
    )
    return d


def spoof_directory() -> FakeDirectory:
    d = FakeDirectory(SPOOF)
    d.put(
        endpoint("evil", "https://evil.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        endpoint("own", "https://own.spoof.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        endpoint("dangling", "https://dangling.spoof.test/fhir", pt.BGZ_SERVER),
        organization("fake-oost", "Ziekenhuis Oost", ura=URA_OOST, endpoints=("evil",)),
        organization("orphan", "Zwevende afdeling", endpoints=("evil",)),
        organization("spoof", "Schimmig BV", ura=URA_SPOOF, endpoints=("own",)),
        service("stray", "Stray service", "nonexistent", endpoints=("dangling",)),
    )
    return d


def network() -> Network:
    return Network(lrza_directory(), linde_directory(), oost_directory(), spoof_directory())
