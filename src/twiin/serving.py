"""Framework-agnostic request and answer values for twiin's server-side building blocks.

A vendor's web framework turns its request into an :class:`IncomingRequest` (method, URL,
headers, body, TLS peer certificate), calls a twiin block, and writes the returned
:class:`Answer` back. twiin never imposes a web framework.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
from cryptography import x509

from twiin.errors import redact_url

__all__ = ["Answer", "IncomingRequest", "operation_outcome"]


def _lower_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@attrs.frozen(repr=False)
class IncomingRequest:
    """An HTTP request as a server block sees it. Header names are lower-cased."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_headers)
    body: bytes = b""
    peer_certificate: x509.Certificate | None = None

    def __repr__(self) -> str:
        return f"IncomingRequest({self.method} {redact_url(self.url)})"

    @property
    def path(self) -> str:
        """The URL path."""
        return urlsplit(self.url).path

    @property
    def query(self) -> list[tuple[str, str]]:
        """Decoded query parameters in order."""
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def bearer_token(self) -> str | None:
        """The ``Authorization: Bearer`` (or ``DPoP``) token, if any."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() in ("bearer", "dpop") and token.strip():
            return token.strip()
        return None


@attrs.frozen(repr=False)
class Answer:
    """An HTTP answer produced by a server block."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""

    def __repr__(self) -> str:
        return f"Answer({self.status}, {len(self.body)} bytes)"

    @classmethod
    def json(
        cls, status: int, payload: Any, *, content_type: str = "application/json", **headers: str
    ) -> Answer:
        """A JSON answer."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return cls(status, {"content-type": content_type, **headers}, body)

    @classmethod
    def fhir(cls, status: int, resource: Any, **headers: str) -> Answer:
        """A FHIR JSON answer from a dict resource."""
        return cls.json(status, resource, content_type="application/fhir+json; charset=utf-8", **headers)

    @classmethod
    def outcome(cls, status: int, code: str, diagnostics: str, *, severity: str = "error") -> Answer:
        """An ``OperationOutcome`` answer (valid in STU3 and R4)."""
        return cls.fhir(status, operation_outcome(code, diagnostics, severity=severity))

    def json_body(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def operation_outcome(code: str, diagnostics: str, *, severity: str = "error") -> dict[str, Any]:
    """A one-issue ``OperationOutcome`` as a dict (no patient data may go into ``diagnostics``)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }
