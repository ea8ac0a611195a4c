"""Hostile XML is refused before it costs anything: entity expansion, external entities and DTDs,
deep nesting, oversize documents, encoding tricks. Every parser entry point is checked."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from tests.unit.consent.conftest import make_question
from twiin import errors
from twiin.consent import MitzSubscriptions, parse_closed_answer, parse_closed_question, parse_open_answer
from twiin.consent._xml import parse_xml

ENV = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>%s</s:Body></s:Envelope>'

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<lolz>&lol9;</lolz>"""

CORPUS = {
    "billion_laughs": BILLION_LAUGHS,
    "quadratic_blowup": b'<!DOCTYPE a [<!ENTITY x "' + b"A" * 50_000 + b'">]><a>' + b"&x;" * 1000 + b"</a>",
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><a>&xxe;</a>',
    "external_entity_http": b'<!DOCTYPE a [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]><a>&xxe;</a>',
    "parameter_entity": b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><a/>',
    "external_dtd": b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a/>',
    "public_dtd": b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd"><a/>',
    "lowercase_doctype": b'<!doctype a [<!entity x "y">]><a>&x;</a>',
    "doctype_inside_soap": ENV.replace(b"<s:Envelope", b"<!DOCTYPE s:Envelope []><s:Envelope", 1) % b"",
    "undeclared_entity": ENV % b"<a>&undefined;</a>",
    "deep_nesting": b"<a>" * 10_000 + b"</a>" * 10_000,
    "deep_nesting_in_soap": ENV % (b"<a>" * 200 + b"</a>" * 200),
    "oversize": ENV % (b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>"),
    "utf16_bypass": '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16"),
    "utf16_declared": b'<?xml version="1.0" encoding="UTF-16"?><a/>',
    "utf7_declared": b'<?xml version="1.0" encoding="UTF-7"?>+ADw-a/+AD4-',
}
XINCLUDE = ENV % b'<x:include xmlns:x="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>'

ENTRY_POINTS: dict[str, Callable[[bytes], object]] = {
    "parse_xml": parse_xml,
    "closed_answer": lambda body: parse_closed_answer(body, make_question()),
    "closed_question": parse_closed_question,
    "open_answer": lambda body: parse_open_answer(body, message_id="urn:uuid:x"),
    "notification_xml": lambda body: MitzSubscriptions.parse_notification(body, "application/fhir+xml"),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("attack", sorted(CORPUS))
def test_attack_is_refused(entry: str, attack: str) -> None:
    body = CORPUS[attack]
    with pytest.raises(errors.TwiinError) as info:
        ENTRY_POINTS[entry](body)
    assert isinstance(info.value, errors.UnsafeXML | errors.ConsentError)
    assert "root:" not in str(info.value)  # nothing from /etc/passwd


@pytest.mark.parametrize(
    "attack",
    ["billion_laughs", "quadratic_blowup", "external_entity", "external_dtd", "deep_nesting", "oversize"],
)
def test_core_attacks_are_unsafe_xml(attack: str) -> None:
    with pytest.raises(errors.UnsafeXML):
        parse_xml(CORPUS[attack])


def test_xinclude_is_not_processed() -> None:
    root = parse_xml(XINCLUDE)
    assert b"root:" not in etree.tostring(root)
    with pytest.raises(errors.ConsentMalformedAnswer):
        parse_closed_answer(XINCLUDE, make_question())


def test_limits_are_configurable() -> None:
    doc = b"<a>" * 10 + b"</a>" * 10
    assert parse_xml(doc, max_depth=10).tag == "a"
    with pytest.raises(errors.UnsafeXML):
        parse_xml(doc, max_depth=9)
    with pytest.raises(errors.UnsafeXML):
        parse_xml(doc, max_bytes=len(doc) - 1)


def test_comments_and_cdata_are_fine() -> None:
    root = parse_xml(b"<?xml version='1.0' encoding='utf-8'?><!-- hi --><a><![CDATA[<b>]]></a>")
    assert root.text == "<b>"
