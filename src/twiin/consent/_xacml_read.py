"""Reading XACML ``Attributes`` blocks and their HL7v3 values (shared by the answer and request readers)."""

from __future__ import annotations

from lxml import etree

from twiin.consent._xml import HL7, XACML, q
from twiin.errors import ConsentMalformedAnswer

__all__ = ["blocks", "single", "values"]


def values(block: etree._Element, attribute_id: str) -> list[etree._Element]:
    """The HL7v3 value elements of every ``attribute_id`` Attribute in ``block``."""
    found: list[etree._Element] = []
    for attribute in block.iterfind(q(XACML, "Attribute")):
        if attribute.get("AttributeId") == attribute_id:
            for value in attribute.iterfind(q(XACML, "AttributeValue")):
                found.extend(c for c in value if isinstance(c.tag, str))
    return found


def single(blocks: list[etree._Element], attribute_id: str, local: str) -> etree._Element | None:
    """The one HL7v3 ``local`` value of ``attribute_id`` across ``blocks``; None when absent."""
    found = [v for b in blocks for v in values(b, attribute_id)]
    if not found:
        return None
    if len(found) > 1:
        raise ConsentMalformedAnswer(f"attribute {attribute_id} appears more than once")
    if found[0].tag != q(HL7, local):
        raise ConsentMalformedAnswer(f"attribute {attribute_id} is not an HL7v3 {local}")
    return found[0]


def blocks(parent: etree._Element, category: str) -> list[etree._Element]:
    """The ``Attributes`` children of ``parent`` with ``Category`` = ``category``."""
    return [b for b in parent.iterfind(q(XACML, "Attributes")) if b.get("Category") == category]
