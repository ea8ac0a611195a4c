"""The result of one FHIR interaction: parsed model, JSON, raw bytes and headers side by side.

Model round-trips are lossy (decimal trailing zeros, fractional seconds), so the raw bytes are
always kept: forward or hash ``result.raw``, not a re-serialised model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from twiin._http.compat import httpx
from twiin.errors import ModelValidationError, redact_url
from twiin.fhir.content import is_xml, load_json, parse_resource, to_dict
from twiin.fhir_version import FhirVersion

__all__ = ["FhirResult", "etag_value", "if_match_header", "result_from_response", "version_id_from_etag"]


def version_id_from_etag(etag: str | None) -> str | None:
    """The opaque version id inside an ETag (``W/"abc"`` -> ``abc``); never parsed as a number."""
    if not etag:
        return None
    value = etag.strip()
    if value[:2] in ("W/", "w/"):
        value = value[2:]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value or None


def etag_value(version_id: str) -> str:
    """The weak ETag for a version id: ``W/"<versionId>"``."""
    return f'W/"{version_id}"'


def if_match_header(version: str) -> str:
    """An ``If-Match`` value from a version id or a complete ETag (kept as given)."""
    version = version.strip()
    if version.startswith(('W/"', 'w/"', '"')):
        return version
    return etag_value(version)


@attrs.frozen(repr=False, eq=False)
class FhirResult:
    """A FHIR response: ``resource`` (model, or None in raw mode / without body), ``json`` (dict or
    None without body), ``raw`` bytes, ``status`` and ``headers``."""

    status: int
    headers: httpx.Headers
    raw: bytes
    json: dict[str, Any] | None
    resource: Any
    version: FhirVersion
    url: str

    def __repr__(self) -> str:
        kind = self.resource_type or "no body"
        return f"FhirResult({self.status} {kind} {redact_url(self.url)})"

    @property
    def resource_type(self) -> str | None:
        """``resourceType`` of the body, if any."""
        value = (self.json or {}).get("resourceType")
        return value if isinstance(value, str) else None

    @property
    def etag(self) -> str | None:
        """The ``ETag`` header, or one made from ``meta.versionId``."""
        header = self._header("etag")
        if header:
            return header
        vid = self._meta_version_id()
        return etag_value(vid) if vid else None

    @property
    def version_id(self) -> str | None:
        """The opaque version id, from the ETag, ``meta.versionId`` or the Location header."""
        return (
            version_id_from_etag(self._header("etag"))
            or self._meta_version_id()
            or self._location_part("_history")
        )

    @property
    def location(self) -> str | None:
        """The ``Location`` (or ``Content-Location``) header."""
        return self._header("location") or self._header("content-location")

    @property
    def id(self) -> str | None:
        """The logical id of the returned resource, or the one in the Location header."""
        value = (self.json or {}).get("id")
        if isinstance(value, str):
            return value
        return self._location_id()

    @property
    def last_modified(self) -> str | None:
        """The ``Last-Modified`` header."""
        return self._header("last-modified")

    @property
    def content_type(self) -> str | None:
        """The response media type."""
        return self._header("content-type")

    def model(self) -> Any:
        """The parsed model (validating now when the client ran in raw mode)."""
        if self.resource is not None:
            return self.resource
        if self.json is None:
            return None
        return parse_resource(self.json, self.version)

    def _header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return str(value) if value else None

    def _meta_version_id(self) -> str | None:
        meta = (self.json or {}).get("meta")
        vid = meta.get("versionId") if isinstance(meta, Mapping) else None
        return vid if isinstance(vid, str) and vid else None

    def _location_parts(self) -> list[str]:
        location = self.location
        if not location:
            return []
        return [p for p in httpx.URL(location).path.split("/") if p]

    def _location_part(self, marker: str) -> str | None:
        parts = self._location_parts()
        if marker in parts:
            at = parts.index(marker)
            return parts[at + 1] if at + 1 < len(parts) else None
        return None

    def _location_id(self) -> str | None:
        parts = self._location_parts()
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        return parts[-1] if len(parts) >= 2 else None


def result_from_response(response: httpx.Response, version: FhirVersion, *, raw_mode: bool) -> FhirResult:
    """Build a :class:`FhirResult` from a (2xx) response; validate the body unless ``raw_mode``."""
    body = response.content
    content_type = response.headers.get("content-type")
    data: dict[str, Any] | None = None
    model: Any = None
    if body.strip():
        if is_xml(content_type, body):
            model = parse_resource(body, version, content_type)
            data = to_dict(model)
            if raw_mode:
                model = None
        else:
            data = load_json(body)
            if not raw_mode:
                try:
                    model = parse_resource(data, version)
                except ModelValidationError as exc:
                    exc.raw = body
                    raise
    return FhirResult(
        status=response.status_code,
        headers=response.headers,
        raw=body,
        json=data,
        resource=model,
        version=version,
        url=str(response.request.url),
    )
