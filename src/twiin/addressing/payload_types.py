"""Endpoint payload types for the Twiin use cases, as one set of constants.

A payload type says what an mCSD ``Endpoint`` can be used for (``Endpoint.payloadType``): the
Twiin notification receiver, a BgZ server, a provider's Administration Directory, ... Codes come
from the Generic Functions IG code system ``nl-gf-data-exchange-capabilities`` (the code value
*is* the string, often a CapabilityStatement canonical) and from HL7 ``endpoint-payload-type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from twiin.fhir_version import FhirVersion

__all__ = [
    "ACP_SERVER",
    "ADMIN_DIRECTORY",
    "ALL",
    "ANY",
    "BGLZ_SERVER",
    "BGZ_SERVER",
    "EOVERDRACHT_NOTIFICATION",
    "EOVERDRACHT_SERVER",
    "GF_CAPABILITIES_SYSTEM",
    "GP_PATIENT_DATA_SERVER",
    "HL7_FHIR_REST",
    "HL7_PAYLOAD_TYPE_SYSTEM",
    "LAB_RESULTS_SERVER",
    "NAMES",
    "NUTS_OAUTH",
    "QUERY_DIRECTORY",
    "TWIIN_TA_NOTIFICATION",
    "PayloadType",
]

GF_CAPABILITIES_SYSTEM = (
    "http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-data-exchange-capabilities"
)
HL7_PAYLOAD_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
HL7_FHIR_REST = "hl7-fhir-rest"
"""The ``Endpoint.connectionType`` code of a FHIR REST endpoint (STU3 and R4 alike)."""

_GF_CAPST = "http://nuts-foundation.github.io/nl-generic-functions-ig/CapabilityStatement/"
_NICTIZ_CAPST = "http://nictiz.nl/fhir/CapabilityStatement/"


@attrs.frozen
class PayloadType:
    """A payload type: ``code`` plus, optionally, its ``system``.

    Without a system, any coding with the same code matches. ``fhir_version`` is the FHIR
    version the capability is defined in, where the capability fixes one (e.g. BgZ 2017 is
    STU3); it is used only when the directory does not state an endpoint's version.
    """

    code: str
    system: str | None = None
    fhir_version: FhirVersion | None = attrs.field(default=None, eq=False, kw_only=True)
    display: str = attrs.field(default="", eq=False, kw_only=True)

    def matches(self, system: str | None, code: str | None) -> bool:
        """True when a coding (``system``, ``code``) is this payload type."""
        if code != self.code:
            return False
        return self.system is None or system is None or system == self.system

    def to_token(self) -> str:
        """``system|code`` (or just ``code`` without a system), as :meth:`parse` reads it."""
        return f"{self.system}|{self.code}" if self.system else self.code

    def to_coding(self) -> dict[str, str]:
        """A FHIR ``Coding`` dict."""
        coding = {"code": self.code}
        if self.system:
            coding["system"] = self.system
        if self.display:
            coding["display"] = self.display
        return coding

    def __str__(self) -> str:
        return self.code

    @classmethod
    def parse(cls, value: PayloadType | str) -> PayloadType:
        """A payload type from ``code``, ``system|code``, a known constant's code or its short name.

        Known codes and short names (:data:`NAMES`, e.g. ``bgz-server``) come back as the
        constant (with its FHIR version and display).
        """
        if isinstance(value, PayloadType):
            return value
        if not isinstance(value, str) or not value.strip():
            raise ValueError("payload type must be a non-empty string")
        text = value.strip()
        system: str | None = None
        if "|" in text:
            system, _, text = text.rpartition("|")
            system = system or None
        known = _BY_CODE.get(text)
        if known is not None and (system is None or system == known.system):
            return known
        if system is None and text.lower() in NAMES:
            return NAMES[text.lower()]
        return cls(text, system)

    @classmethod
    def from_coding(cls, coding: Mapping[str, Any]) -> PayloadType | None:
        """A payload type from a FHIR ``Coding`` dict; ``None`` when it has no usable code."""
        code = coding.get("code")
        system = coding.get("system")
        if not isinstance(code, str) or not code:
            return None
        known = _BY_CODE.get(code)
        if known is not None and (system is None or system == known.system):
            return known
        return cls(code, system if isinstance(system, str) and system else None)


def _gf(code: str, display: str, version: FhirVersion | None = None) -> PayloadType:
    return PayloadType(code, GF_CAPABILITIES_SYSTEM, fhir_version=version, display=display)


ADMIN_DIRECTORY = _gf(
    _GF_CAPST + "nl-gf-admin-directory-update-client",
    "Care Services Directory for Update Client",
    FhirVersion.R4,
)
"""A provider's mCSD Administration Directory (what LRZa Endpoints point to)."""
QUERY_DIRECTORY = _gf(
    _GF_CAPST + "nl-gf-query-directory-query-client", "Care Services Query Directory", FhirVersion.R4
)
TWIIN_TA_NOTIFICATION = _gf("Twiin-TA-notification", "Twiin TA Notified Pull notification")
"""The receiver of a Twiin Notified Pull notification Task."""
EOVERDRACHT_NOTIFICATION = _gf("eOverdracht-notification", "Transfer of Care notification")
NUTS_OAUTH = _gf("Nuts-OAuth", "Nuts OAuth endpoint")
BGZ_SERVER = _gf(_NICTIZ_CAPST + "bgz2017-servercapabilities", "BgZ 2017 server", FhirVersion.STU3)
"""A BgZ (Basisgegevensset Zorg 2017) server, the data source of a BgZ Notified Pull."""
EOVERDRACHT_SERVER = _gf(
    _NICTIZ_CAPST + "eOverdracht-servercapabilities",
    "Transfer of Care - eOverdracht Server",
    FhirVersion.STU3,
)
BGLZ_SERVER = _gf(_NICTIZ_CAPST + "bglz-servercapabilities", "BgLZ server")
GP_PATIENT_DATA_SERVER = _gf(
    _NICTIZ_CAPST + "gp-patientdata2017-servercapabilities", "GP patient data server", FhirVersion.STU3
)
LAB_RESULTS_SERVER = _gf(_NICTIZ_CAPST + "labresults-servercapabilities", "Lab results server")
ACP_SERVER = _gf(
    "https://api.iknl.nl/docs/pzp/r4/CapabilityStatement/ACP-CapabilityStatementProvider",
    "ACP/PZP server",
    FhirVersion.R4,
)
ANY = PayloadType("any", HL7_PAYLOAD_TYPE_SYSTEM, display="Any")

ALL: tuple[PayloadType, ...] = (
    ADMIN_DIRECTORY,
    QUERY_DIRECTORY,
    TWIIN_TA_NOTIFICATION,
    EOVERDRACHT_NOTIFICATION,
    NUTS_OAUTH,
    BGZ_SERVER,
    EOVERDRACHT_SERVER,
    BGLZ_SERVER,
    GP_PATIENT_DATA_SERVER,
    LAB_RESULTS_SERVER,
    ACP_SERVER,
    ANY,
)
"""Every payload type constant of this module."""

NAMES: Mapping[str, PayloadType] = {
    name.lower().replace("_", "-"): globals()[name]
    for name in __all__
    if isinstance(globals().get(name), PayloadType)
}
"""Short names of the constants for command lines and configuration (``bgz-server``)."""

_BY_CODE = {p.code: p for p in ALL}
