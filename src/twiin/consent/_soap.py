"""SOAP 1.2 envelopes with WS-Addressing: building with lxml and reading answers strictly."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import attrs
from lxml import etree

from twiin.consent._attrs import ANONYMOUS
from twiin.consent._xml import SOAP11, SOAP12, WSA, parse_xml, q
from twiin.errors import (
    ConsentHTTPError,
    ConsentMalformedAnswer,
    ConsentNotSoap,
    ConsentRelatesToMismatch,
    ConsentSoapFault,
    TwiinError,
)
from twiin.redaction import redact

__all__ = ["SoapMessage", "envelope", "new_message_id", "read_envelope", "serialize"]

_NSMAP = {"soap": SOAP12, "wsa": WSA}


def new_message_id() -> str:
    """A fresh WS-Addressing MessageID ``urn:uuid:<uuid4>``."""
    return f"urn:uuid:{uuid.uuid4()}"


def envelope(
    action: str, message_id: str, to: str, *, relates_to: str | None = None, must_understand: bool = True
) -> tuple[etree._Element, etree._Element, etree._Element]:
    """A SOAP 1.2 envelope with WS-Addressing headers; returns (envelope, header, body)."""
    env = etree.Element(q(SOAP12, "Envelope"), nsmap=_NSMAP)
    header = etree.SubElement(env, q(SOAP12, "Header"))
    action_el = etree.SubElement(header, q(WSA, "Action"))
    action_el.text = action
    if must_understand:
        action_el.set(q(SOAP12, "mustUnderstand"), "1")
    etree.SubElement(header, q(WSA, "MessageID")).text = message_id
    if relates_to is not None:
        etree.SubElement(header, q(WSA, "RelatesTo")).text = relates_to
    else:
        etree.SubElement(header, q(WSA, "To")).text = to
        reply = etree.SubElement(header, q(WSA, "ReplyTo"))
        etree.SubElement(reply, q(WSA, "Address")).text = ANONYMOUS
    body = etree.SubElement(env, q(SOAP12, "Body"))
    return env, header, body


def serialize(element: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


@attrs.frozen
class SoapMessage:
    """A parsed SOAP 1.2 message: header fields and the single Body child."""

    action: str | None
    message_id: str | None
    relates_to: str | None
    to: str | None
    payload: etree._Element


def _text(parent: etree._Element | None, name: str) -> str | None:
    if parent is None:
        return None
    found = parent.find(name)
    return (found.text or "").strip() if found is not None else None


def _fault_error(fault: etree._Element, status: int | None) -> ConsentSoapFault:
    code = _text(fault.find(q(SOAP12, "Code")), q(SOAP12, "Value"))
    sub = fault.find(f"{q(SOAP12, 'Code')}/{q(SOAP12, 'Subcode')}")
    subcode = _text(sub, q(SOAP12, "Value"))
    reason_el = fault.find(f"{q(SOAP12, 'Reason')}/{q(SOAP12, 'Text')}")
    reason = redact((reason_el.text or "").strip())[:200] if reason_el is not None else ""
    message = f"SOAP fault {code or '<no code>'}"
    if subcode:
        message += f" ({subcode})"
    if reason:
        message += f": {reason}"
    return ConsentSoapFault(message, status=status, fault_code=code, subcode=subcode)


def read_envelope(
    body: bytes,
    *,
    status: int = 200,
    max_bytes: int,
    max_depth: int,
    expect_relates_to: str | None = None,
) -> SoapMessage:
    """Parse a SOAP 1.2 answer. Faults, HTTP errors and non-SOAP bodies raise distinct typed errors."""

    def malformed(reason: str) -> TwiinError:
        if status == 200:
            return ConsentNotSoap(f"answer is not SOAP: {reason}")
        return ConsentHTTPError(f"consent service answered HTTP {status} without SOAP", status=status)

    make: Callable[[str], TwiinError] = malformed
    root = parse_xml(body, max_bytes=max_bytes, max_depth=max_depth, malformed=make)
    if root.tag == q(SOAP11, "Envelope"):
        raise malformed("SOAP 1.1 envelope, SOAP 1.2 expected")
    if root.tag != q(SOAP12, "Envelope"):
        raise malformed("root element is not a SOAP 1.2 Envelope")
    bodies = root.findall(q(SOAP12, "Body"))
    if len(bodies) != 1:
        raise ConsentMalformedAnswer("SOAP envelope must have exactly one Body")
    children = [c for c in bodies[0] if isinstance(c.tag, str)]
    faults = [c for c in children if c.tag == q(SOAP12, "Fault")]
    if faults:
        raise _fault_error(faults[0], status)
    if not 200 <= status < 300:
        raise ConsentHTTPError(f"consent service answered HTTP {status}", status=status)
    if len(children) != 1:
        raise ConsentMalformedAnswer("SOAP Body must hold exactly one element")
    header = root.find(q(SOAP12, "Header"))
    message = SoapMessage(
        action=_text(header, q(WSA, "Action")),
        message_id=_text(header, q(WSA, "MessageID")),
        relates_to=_text(header, q(WSA, "RelatesTo")),
        to=_text(header, q(WSA, "To")),
        payload=children[0],
    )
    if expect_relates_to is not None and message.relates_to not in (None, expect_relates_to):
        raise ConsentRelatesToMismatch("answer relates to another request (wsa:RelatesTo)")
    return message
