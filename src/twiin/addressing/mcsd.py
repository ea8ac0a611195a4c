"""Reading mCSD resources (FHIR R4 JSON dicts) into the small records addressing works with.

Directory content is outside input: every reader here tolerates missing or wrongly typed
elements and reports what it cannot use as :class:`Malformed` instead of raising ``KeyError``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from twiin.addressing.payload_types import PayloadType
from twiin.errors import InvalidIdentifier
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura

__all__ = [
    "MCSD_TYPES",
    "EndpointRecord",
    "Malformed",
    "OrgRecord",
    "ServiceRecord",
    "endpoint_record",
    "linked_organizations",
    "org_record",
    "parse_instant",
    "reference_id",
    "service_record",
    "uras_of",
]

MCSD_TYPES: tuple[str, ...] = (
    "Organization",
    "Endpoint",
    "Location",
    "HealthcareService",
    "PractitionerRole",
    "Practitioner",
    "OrganizationAffiliation",
)
"""The resource types an mCSD Update Client synchronises, in sync order."""

FHIR_VERSION_EXTENSION = "http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class Malformed(ValueError):
    """A directory resource that cannot be used; ``reason`` says why (no payload echoed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def valid_id(value: object) -> str:
    """``value`` when it is a FHIR logical id; :class:`Malformed` otherwise."""
    if not isinstance(value, str) or not _ID.match(value):
        raise Malformed("missing or invalid resource id")
    return value


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: object) -> Iterator[Mapping[str, Any]]:
    return (v for v in _list(value) if isinstance(v, Mapping))


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_instant(value: object) -> str | None:
    """A FHIR instant/dateTime as a sortable UTC string (``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="microseconds")


def reference_id(ref: object, expected_type: str, base_url: str | None = None) -> str | None:
    """The id in a ``Reference`` to ``expected_type`` inside the same directory, else ``None``.

    Relative references (``Organization/1``) and absolute ones under ``base_url`` are local;
    other absolute, ``urn:``, contained (``#x``) and identifier-only references are not.
    """
    if not isinstance(ref, Mapping):
        return None
    text = ref.get("reference")
    if not isinstance(text, str) or not text or text.startswith(("#", "urn:")):
        return None
    if "://" in text:
        if base_url is None or not text.startswith(base_url.rstrip("/") + "/"):
            return None
        text = text[len(base_url.rstrip("/")) + 1 :]
    parts = text.split("/")
    if len(parts) >= 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) != 2 or parts[0] != expected_type or not _ID.match(parts[1]):
        return None
    return parts[1]


def uras_of(resource: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(valid URAs, invalid URA values) among the resource's ``identifier`` elements."""
    good: list[str] = []
    bad: list[str] = []
    for ident in _dicts(resource.get("identifier")):
        if not Ura.accepts_system(ident.get("system")):
            continue
        try:
            good.append(Ura.from_identifier(ident).value)
        except InvalidIdentifier:
            bad.append("<invalid>")
    return good, bad


@attrs.frozen
class OrgRecord:
    """An ``Organization``: top level (with a URA) or a department (``partOf``)."""

    source: str
    id: str
    ura: str | None
    name: str
    part_of: str | None
    endpoints: tuple[str, ...]
    active: bool


@attrs.frozen
class ServiceRecord:
    """A ``HealthcareService`` with the organisation providing it and its endpoints."""

    source: str
    id: str
    provided_by: str | None
    name: str
    endpoints: tuple[str, ...]
    active: bool


@attrs.frozen
class EndpointRecord:
    """An ``Endpoint``: address, status, connection type, payload types, FHIR version."""

    source: str
    id: str
    address: str
    status: str
    connection_type: str
    payload_types: tuple[PayloadType, ...]
    fhir_version: FhirVersion | None
    name: str

    @property
    def usable(self) -> bool:
        """Active FHIR REST endpoint with an address."""
        return self.status == "active" and self.connection_type == "hl7-fhir-rest" and bool(self.address)


def _endpoint_refs(resource: Mapping[str, Any], base_url: str | None) -> tuple[str, ...]:
    refs = (reference_id(r, "Endpoint", base_url) for r in _list(resource.get("endpoint")))
    return tuple(dict.fromkeys(r for r in refs if r))


def org_record(source: str, resource: Mapping[str, Any], base_url: str | None = None) -> OrgRecord:
    """Read an ``Organization``; raises :class:`Malformed` when it has no valid id."""
    rid = valid_id(resource.get("id"))
    uras, _ = uras_of(resource)
    return OrgRecord(
        source=source,
        id=rid,
        ura=uras[0] if uras else None,
        name=_str(resource.get("name")),
        part_of=reference_id(resource.get("partOf"), "Organization", base_url),
        endpoints=_endpoint_refs(resource, base_url),
        active=resource.get("active") is not False,
    )


def service_record(source: str, resource: Mapping[str, Any], base_url: str | None = None) -> ServiceRecord:
    """Read a ``HealthcareService``; raises :class:`Malformed` when it has no valid id."""
    return ServiceRecord(
        source=source,
        id=valid_id(resource.get("id")),
        provided_by=reference_id(resource.get("providedBy"), "Organization", base_url),
        name=_str(resource.get("name")),
        endpoints=_endpoint_refs(resource, base_url),
        active=resource.get("active") is not False,
    )


def _mime_version(mime: str) -> FhirVersion | None:
    for param in mime.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "fhirversion":
            return _version_from_release(value.strip().strip('"'))
    return None


def _version_from_release(release: str) -> FhirVersion | None:
    if release.startswith("3.0"):
        return FhirVersion.STU3
    if release.startswith("4.0"):
        return FhirVersion.R4
    return None


def endpoint_fhir_version(resource: Mapping[str, Any], payloads: Sequence[PayloadType]) -> FhirVersion | None:
    """The endpoint's FHIR version: stated (mime ``fhirVersion``, extension), else the payload types'."""
    for mime in _list(resource.get("payloadMimeType")):
        if isinstance(mime, str) and (found := _mime_version(mime)):
            return found
    for ext in _dicts(resource.get("extension")):
        if ext.get("url") == FHIR_VERSION_EXTENSION:
            found = _version_from_release(_str(ext.get("valueCode")))
            if found:
                return found
    implied = {p.fhir_version for p in payloads if p.fhir_version is not None}
    return implied.pop() if len(implied) == 1 else None


def endpoint_record(source: str, resource: Mapping[str, Any]) -> EndpointRecord:
    """Read an ``Endpoint``; raises :class:`Malformed` when it has no valid id."""
    rid = valid_id(resource.get("id"))
    payloads: list[PayloadType] = []
    for concept in _dicts(resource.get("payloadType")):
        for coding in _dicts(concept.get("coding")):
            payload = PayloadType.from_coding(coding)
            if payload is not None and payload not in payloads:
                payloads.append(payload)
    conn = resource.get("connectionType")
    return EndpointRecord(
        source=source,
        id=rid,
        address=_str(resource.get("address")).strip(),
        status=_str(resource.get("status")),
        connection_type=_str(conn.get("code")) if isinstance(conn, Mapping) else "",
        payload_types=tuple(payloads),
        fhir_version=endpoint_fhir_version(resource, payloads),
        name=_str(resource.get("name")),
    )


def linked_organizations(resource: Mapping[str, Any], base_url: str | None = None) -> tuple[str, ...]:
    """Ids of the organisations a resource links to (``partOf``, ``providedBy``, ``organization``, ...)."""
    rtype = resource.get("resourceType")
    fields = {
        "Organization": ("partOf",),
        "HealthcareService": ("providedBy",),
        "Location": ("managingOrganization",),
        "PractitionerRole": ("organization",),
        "OrganizationAffiliation": ("organization", "participatingOrganization"),
    }.get(_str(rtype), ())
    found = (reference_id(resource.get(f), "Organization", base_url) for f in fields)
    return tuple(f for f in found if f)


def host_of(url: str) -> str:
    """The host of ``url`` (for reports), or ``""``."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
