"""What a resolver returns (:class:`ResolvedEndpoint`) and the check on endpoint addresses.

Endpoint addresses read from a directory are outside input: :class:`EndpointPolicy` checks
them (scheme, host, no credentials) before anyone connects, raising
:class:`~twiin.errors.UnsafeEndpoint`.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from twiin.addressing.payload_types import PayloadType
from twiin.errors import UnsafeEndpoint, redact_url
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura

__all__ = ["CareUnit", "EndpointPolicy", "OrganizationRef", "ResolvedEndpoint", "UnitKind"]

MAX_URL_LENGTH = 2048


class UnitKind(enum.StrEnum):
    """Where under the organisation an endpoint hangs."""

    ORGANIZATION = "organization"
    DEPARTMENT = "department"
    HEALTHCARE_SERVICE = "healthcare-service"

    @property
    def rank(self) -> int:
        """Sort rank: the organisation itself first, then departments, then services."""
        return (UnitKind.ORGANIZATION, UnitKind.DEPARTMENT, UnitKind.HEALTHCARE_SERVICE).index(self)


@attrs.frozen
class OrganizationRef:
    """The care organisation an endpoint belongs to: its URA and (authoritative) name."""

    ura: Ura
    name: str = ""


@attrs.frozen
class CareUnit:
    """A department (``Organization`` with ``partOf``) or ``HealthcareService`` an endpoint hangs under."""

    kind: UnitKind
    id: str
    name: str = ""


@attrs.frozen
class ResolvedEndpoint:
    """One usable endpoint of a care organisation for one or more payload types.

    ``address`` is the FHIR base URL. ``unit`` is ``None`` for endpoints of the organisation
    itself. ``fhir_version`` is ``None`` when neither the directory nor the payload type says.
    """

    address: str
    organization: OrganizationRef
    payload_types: tuple[PayloadType, ...]
    fhir_version: FhirVersion | None = None
    connection_type: str = "hl7-fhir-rest"
    unit: CareUnit | None = None
    endpoint_id: str | None = None
    name: str = ""
    source: str | None = None

    @property
    def level(self) -> UnitKind:
        """Organisation, department or healthcare service."""
        return self.unit.kind if self.unit else UnitKind.ORGANIZATION

    def supports(self, payload_type: PayloadType) -> bool:
        """True when one of this endpoint's payload types is ``payload_type``."""
        return any(payload_type.matches(p.system, p.code) for p in self.payload_types)

    def sort_key(self) -> tuple[int, str, str, str]:
        """Deterministic order: organisation level first, then unit name, address, id."""
        return (self.level.rank, self.unit.name if self.unit else "", self.address, self.endpoint_id or "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the store's row format); :meth:`from_dict` reads it back."""
        return {
            "a": self.address,
            "u": self.organization.ura.value,
            "n": self.organization.name,
            "p": [[p.system, p.code] for p in self.payload_types],
            "v": self.fhir_version.value if self.fhir_version else None,
            "c": self.connection_type,
            "k": [self.unit.kind.value, self.unit.id, self.unit.name] if self.unit else None,
            "i": self.endpoint_id,
            "m": self.name,
            "s": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedEndpoint:
        """The inverse of :meth:`to_dict`."""
        unit = data.get("k")
        version = data.get("v")
        return cls(
            address=data["a"],
            organization=OrganizationRef(Ura(data["u"]), data.get("n") or ""),
            payload_types=tuple(
                PayloadType.from_coding({"system": s, "code": c}) or PayloadType(c) for s, c in data["p"]
            ),
            fhir_version=FhirVersion(version) if version else None,
            connection_type=data.get("c") or "hl7-fhir-rest",
            unit=CareUnit(UnitKind(unit[0]), unit[1], unit[2]) if unit else None,
            endpoint_id=data.get("i"),
            name=data.get("m") or "",
            source=data.get("s"),
        )


def _host_is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class EndpointPolicy:
    """Which endpoint addresses from a directory may be connected to.

    By default only ``https`` URLs with a host and no user info. ``allow_http`` admits plain
    ``http`` (test networks only); ``allowed_hosts``, when set, limits the hosts;
    ``allow_loopback=False`` refuses ``localhost`` and loopback IPs.
    """

    allow_http: bool = False
    allowed_hosts: frozenset[str] | None = None
    allow_loopback: bool = True

    @classmethod
    def for_tests(cls) -> EndpointPolicy:
        """A policy for loopback test networks: plain http allowed."""
        return cls(allow_http=True)

    def check(self, url: object) -> str:
        """Return ``url`` when it may be connected to; raise :class:`UnsafeEndpoint` otherwise."""
        if not isinstance(url, str) or not url:
            raise UnsafeEndpoint("endpoint address is missing or not a string")
        if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
            raise UnsafeEndpoint("endpoint address contains whitespace/control characters or is too long")
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise UnsafeEndpoint(f"endpoint address is not a valid URL: {redact_url(url)}") from None
        scheme = parts.scheme.lower()
        allowed = ("https", "http") if self.allow_http else ("https",)
        if scheme not in allowed:
            raise UnsafeEndpoint(f"endpoint scheme {scheme or '<none>'!r} refused: {redact_url(url)}")
        if not host:
            raise UnsafeEndpoint(f"endpoint address has no host: {redact_url(url)}")
        if parts.username is not None or parts.password is not None:
            raise UnsafeEndpoint(f"endpoint address carries user info: {redact_url(url)}")
        if parts.fragment:
            raise UnsafeEndpoint(f"endpoint address carries a fragment: {redact_url(url)}")
        if not self.allow_loopback and _host_is_loopback(host):
            raise UnsafeEndpoint(f"loopback endpoint refused: {redact_url(url)}")
        if self.allowed_hosts is not None and host.lower() not in self.allowed_hosts:
            raise UnsafeEndpoint(f"endpoint host not allowed: {redact_url(url)}")
        return url
