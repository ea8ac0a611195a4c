"""Parsing and serialising FHIR payloads (JSON and XML) for STU3 and R4.

Models come from ``fhir.resources`` (``STU3`` for STU3, ``R4B`` for R4 4.0.1 payloads; see
:class:`~twiin.fhir_version.FhirVersion`). Anything that fails here raises
:class:`~twiin.errors.ModelValidationError` with the raw bytes attached, never a bare pydantic,
JSON or lxml error. XML is parsed with a hardened parser: no DTDs, no entities, no network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lxml import etree

from twiin import naming
from twiin.errors import ModelValidationError, UnsafeXML
from twiin.fhir_version import FhirVersion
from twiin.redaction import redact

__all__ = [
    "FHIR_NS",
    "is_xml",
    "load_json",
    "model_class",
    "parse_resource",
    "resource_type_of",
    "serialize",
    "to_dict",
    "xml_to_dict",
]

FHIR_NS = "http://hl7.org/fhir"
_XML_MEDIA = frozenset({naming.FHIR_XML, "application/xml", "text/xml", "application/xml+fhir"})
_MAX_ERRORS_SHOWN = 5


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_xml(content_type: str | None, data: bytes | str | None = None) -> bool:
    """True for an XML media type, or (without one) a body that starts with ``<``."""
    media = _media(content_type)
    if media:
        return media in _XML_MEDIA or media.endswith("+xml")
    if isinstance(data, bytes):
        return data.lstrip()[:1] == b"<"
    if isinstance(data, str):
        return data.lstrip()[:1] == "<"
    return False


def _as_bytes(data: bytes | str | bytearray) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def model_class(resource_type: str, version: FhirVersion) -> Any:
    """The model class of ``resource_type`` in ``version``; unknown types raise ModelValidationError."""
    if not isinstance(resource_type, str) or not resource_type.isalpha():
        raise ModelValidationError("missing or invalid resourceType")
    try:
        return version.model_class(resource_type)
    except (ValueError, KeyError, ImportError, AttributeError):
        raise ModelValidationError(
            f"unknown {version.value} resource type {resource_type!r}", resource_type=resource_type
        ) from None


def _describe(exc: Exception, resource_type: str) -> str:
    """A message from a pydantic ValidationError: locations and error types only, never input values."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{resource_type} failed validation ({type(exc).__name__})"
    problems: list[dict[str, Any]] = errors(include_url=False, include_input=False, include_context=False)
    shown = [
        f"{'.'.join(str(p) for p in err.get('loc', ())) or '<root>'}: {err.get('type', 'invalid')}"
        for err in problems[:_MAX_ERRORS_SHOWN]
    ]
    more = f" (+{len(problems) - _MAX_ERRORS_SHOWN} more)" if len(problems) > _MAX_ERRORS_SHOWN else ""
    return redact(f"{resource_type} failed validation: {'; '.join(shown)}{more}")


def load_json(data: bytes | str | bytearray) -> dict[str, Any]:
    """Decode a JSON resource body to a dict (no model validation) or raise ModelValidationError."""
    raw = _as_bytes(data)
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ModelValidationError("body is not valid JSON", raw=raw) from None
    if not isinstance(value, dict):
        raise ModelValidationError("JSON body is not an object", raw=raw)
    return value


def _validate_dict(data: Mapping[str, Any], version: FhirVersion, raw: bytes | None) -> Any:
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str):
        raise ModelValidationError("missing or invalid resourceType", raw=raw)
    cls = model_class(resource_type, version)
    try:
        return cls.model_validate(data)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
    ) as exc:  # pydantic's ValidationError is a ValueError
        raise ModelValidationError(
            _describe(exc, resource_type), resource_type=resource_type, raw=raw
        ) from None


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _xml_root(raw: bytes) -> Any:
    try:
        root = etree.fromstring(raw, parser=_safe_parser())
    except etree.XMLSyntaxError:
        raise ModelValidationError("body is not well-formed XML", raw=raw) from None
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or getattr(docinfo, "internalDTD", None) is not None:
        raise UnsafeXML("XML with a DOCTYPE (DTD or entities) is refused")
    return root


def _parse_xml(raw: bytes, version: FhirVersion) -> Any:
    root = _xml_root(raw)
    qname = etree.QName(root)
    if qname.namespace != FHIR_NS:
        raise ModelValidationError("XML root is not in the FHIR namespace", raw=raw)
    resource_type = qname.localname
    cls = model_class(resource_type, version)
    try:
        return cls.model_validate_xml(raw, xmlparser=_safe_parser())
    except Exception as exc:  # fhir.resources' XML path raises ValidationError, KeyError, TypeError ...
        raise ModelValidationError(
            _describe(exc, resource_type), resource_type=resource_type, raw=raw
        ) from None


def parse_resource(
    data: bytes | str | bytearray | Mapping[str, Any],
    version: FhirVersion,
    content_type: str | None = None,
) -> Any:
    """Parse ``data`` (JSON or XML bytes/str, or a dict) into a ``fhir.resources`` model of ``version``.

    The resource type is read from the payload; the model package from ``version``. Raises
    :class:`~twiin.errors.ModelValidationError` (or :class:`~twiin.errors.UnsafeXML`).
    """
    version = FhirVersion(version)
    if isinstance(data, Mapping):
        return _validate_dict(data, version, None)
    raw = _as_bytes(data)
    if is_xml(content_type, raw):
        return _parse_xml(raw, version)
    return _validate_dict(load_json(raw), version, raw)


def xml_to_dict(data: bytes | str, version: FhirVersion) -> dict[str, Any]:
    """The FHIR JSON form (dict) of an XML resource, by way of its model."""
    return to_dict(_parse_xml(_as_bytes(data), FhirVersion(version)))


def to_dict(resource: Any) -> dict[str, Any]:
    """The FHIR JSON form of a model (or a copy of a dict) as plain Python data."""
    if isinstance(resource, Mapping):
        return dict(resource)
    dump = getattr(resource, "model_dump_json", None)
    if dump is None:
        raise TypeError(f"not a FHIR resource: {type(resource).__name__}")
    result: dict[str, Any] = json.loads(dump())
    return result


def resource_type_of(resource: Any) -> str:
    """The ``resourceType`` of a model or dict."""
    if isinstance(resource, Mapping):
        value = resource.get("resourceType")
    else:
        value = getattr(resource, "get_resource_type", lambda: None)()
    if not isinstance(value, str) or not value:
        raise ModelValidationError("resource has no resourceType")
    return value


def serialize(
    resource: Any,
    content_type: str = naming.FHIR_JSON,
    *,
    version: FhirVersion | None = None,
) -> bytes:
    """Encode a model or dict as FHIR JSON (default) or XML bytes.

    A dict serialised to XML is validated into a model first, which needs ``version``.
    """
    if is_xml(content_type):
        if isinstance(resource, Mapping):
            if version is None:
                raise ModelValidationError("serialising a dict to XML needs a FHIR version")
            resource = parse_resource(resource, version)
        out = resource.model_dump_xml()
        return out if isinstance(out, bytes) else str(out).encode("utf-8")
    if isinstance(resource, Mapping):
        return json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text = resource.model_dump_json()
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)
