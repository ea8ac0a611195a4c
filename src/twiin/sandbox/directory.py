"""The sandbox's mCSD directory content: each participant's ``Organization`` and ``Endpoint``s.

Resources are FHIR R4 JSON as an mCSD Query Directory serves them: the Organization carries
the URA identifier, its provider type and references to its Endpoints; each Endpoint is an
active ``hl7-fhir-rest`` endpoint with a payload type from :mod:`twiin.addressing.payload_types`
and its FHIR version in ``payloadMimeType``. ``Endpoint.managingOrganization`` is left out
(it names the software vendor, not the care provider).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from twiin import naming
from twiin.addressing.payload_types import HL7_FHIR_REST, PayloadType
from twiin.fhir_version import FhirVersion
from twiin.sandbox.participants import Participant
from twiin.testing.fhir_store import MemoryFhirStore

__all__ = ["ORGANIZATION_TYPE_SYSTEM", "ListedEndpoint", "endpoint_resource", "organization_resource", "seed"]

ORGANIZATION_TYPE_SYSTEM = "http://nictiz.nl/fhir/NamingSystem/organization-type"
CONNECTION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
_MIME_VERSION = {FhirVersion.STU3: "3.0", FhirVersion.R4: "4.0"}


@attrs.frozen
class ListedEndpoint:
    """One endpoint to list for a participant: its id suffix, address, payload type and FHIR version."""

    suffix: str
    address: str
    payload_type: PayloadType
    fhir_version: FhirVersion


def endpoint_resource(owner: Participant, endpoint: ListedEndpoint) -> dict[str, Any]:
    """The R4 ``Endpoint`` resource for ``endpoint`` of ``owner``."""
    mime = f"application/fhir+json; fhirVersion={_MIME_VERSION[endpoint.fhir_version]}"
    return {
        "resourceType": "Endpoint",
        "id": f"{owner.key}-{endpoint.suffix}",
        "status": "active",
        "connectionType": {"system": CONNECTION_TYPE_SYSTEM, "code": HL7_FHIR_REST},
        "name": f"{owner.name} {endpoint.payload_type.display or endpoint.payload_type.code}",
        "payloadType": [{"coding": [endpoint.payload_type.to_coding()]}],
        "payloadMimeType": [mime],
        "address": endpoint.address,
    }


def organization_resource(owner: Participant, endpoint_ids: Iterable[str]) -> dict[str, Any]:
    """The R4 ``Organization`` resource of ``owner`` referring to its Endpoints."""
    return {
        "resourceType": "Organization",
        "id": owner.key,
        "active": True,
        "identifier": [{"system": naming.URA_SYSTEM, "value": owner.ura.value}],
        "type": [{"coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": owner.provider_type.value}]}],
        "name": owner.name,
        "endpoint": [{"reference": f"Endpoint/{i}"} for i in endpoint_ids],
    }


def seed(store: MemoryFhirStore, listing: Iterable[tuple[Participant, Iterable[ListedEndpoint]]]) -> None:
    """Create (or update) each participant's Endpoints, then its Organization, in ``store``."""
    for owner, endpoints in listing:
        ids = []
        for endpoint in endpoints:
            resource = endpoint_resource(owner, endpoint)
            store.update(resource)
            ids.append(resource["id"])
        store.update(organization_resource(owner, ids))
