"""Hardened XML parsing and the namespaces of the Mitz messages.

Outside XML (Mitz answers, notifications, requests reaching the fake Mitz) is parsed only
through :func:`parse_xml`: documents with a DOCTYPE, entity or other markup declaration are
refused *before* parsing, only UTF-8 (or ASCII) is accepted so that the refusal cannot be
bypassed with another encoding, and lxml runs with entity resolution, DTD loading and network
access off and ``huge_tree`` off. Size and element depth are capped; the depth is checked while
parsing so a deeply nested document is refused without building it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from lxml import etree

from twiin.errors import TwiinError, UnsafeXML

__all__ = [
    "HL7",
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "SOAP12",
    "WSA",
    "XACML",
    "XACML_SAML",
    "default_ns",
    "parse_xml",
    "q",
]

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
XACML = "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17"
XACML_SAML = "urn:oasis:names:tc:xacml:3.0:profile:saml2.0:v2:schema:protocol:wd-14"
HL7 = "urn:hl7-org:v3"
XCPD = "urn:ihe:iti:xcpd:2009"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"
FHIR = "http://hl7.org/fhir"

MAX_XML_BYTES = 1024 * 1024
"""Default cap on an XML document (1 MiB, as the Rust Mitz client uses)."""

MAX_XML_DEPTH = 48
"""Default cap on element nesting; real Mitz messages stay well under 20."""

_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_ENCODING_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_ALLOWED_ENCODINGS = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}


def default_ns(namespace: str) -> dict[str, str]:
    """An lxml ``nsmap`` making ``namespace`` the default namespace."""
    return {None: namespace}  # type: ignore[dict-item]


def q(namespace: str, local: str) -> str:
    """The Clark notation ``{namespace}local`` of an element or attribute name."""
    return f"{{{namespace}}}{local}"


def _unsafe(reason: str) -> UnsafeXML:
    return UnsafeXML(f"XML refused: {reason}")


def parse_xml(
    body: bytes,
    *,
    max_bytes: int = MAX_XML_BYTES,
    max_depth: int = MAX_XML_DEPTH,
    malformed: Callable[[str], TwiinError] | None = None,
) -> etree._Element:
    """Parse ``body`` safely and return its root element.

    Raises :class:`~twiin.errors.UnsafeXML` for hostile input (DTD or entity declarations,
    non-UTF-8 encodings, too large, too deep) and ``malformed(reason)`` (default ``UnsafeXML``)
    for input that is simply not well-formed XML.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise _unsafe("body is not bytes")
    data = bytes(body)
    if len(data) > max_bytes:
        raise _unsafe(f"document larger than {max_bytes} bytes")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4096]:
        raise _unsafe("only UTF-8 documents are accepted")
    data = data.removeprefix(b"\xef\xbb\xbf")
    declared = _ENCODING_DECL.match(data)
    if declared and declared.group(1).lower() not in _ALLOWED_ENCODINGS:
        raise _unsafe("only UTF-8 documents are accepted")
    if _DECLARATION.search(data):
        raise _unsafe("DTD or entity declarations are not allowed")
    make_error = malformed or _unsafe
    if not data.strip():
        raise make_error("empty body")
    depth = 0
    try:
        events = etree.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        root: etree._Element | None = None
        for event, element in events:
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise _unsafe(f"nesting deeper than {max_depth} elements")
                if root is None:
                    root = element
            else:
                depth -= 1
        tree = events.root if root is None else root.getroottree()
    except UnsafeXML:
        raise
    except etree.XMLSyntaxError as exc:
        text = str(exc)
        if "entity" in text.lower() or "dtd" in text.lower():
            raise _unsafe("entity reference without declaration") from None
        raise make_error("not well-formed XML") from None
    except (ValueError, LookupError):
        raise make_error("not well-formed XML") from None
    if root is None:
        raise make_error("no root element")
    docinfo = tree.docinfo if isinstance(tree, etree._ElementTree) else None
    if docinfo is not None and (docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id):
        raise _unsafe("DTD is not allowed")
    _refuse_entities(root)
    return root


def _refuse_entities(root: etree._Element) -> None:
    """Refuse unresolved entity references that slipped through as nodes."""
    for _node in root.iter(etree.Entity):
        raise _unsafe("entity references are not allowed")
