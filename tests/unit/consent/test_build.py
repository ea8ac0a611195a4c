"""The closed-question request, element by element against the spec's attribute table (§1.3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.unit.consent.conftest import ENDPOINT, PATIENT, make_question
from twiin.consent import DataCategory, MitzOptions, ProfessionalId, Purpose, build_closed_question
from twiin.consent.mitz import build_xacml_request, closed_question_headers, parse_closed_question

NS = {
    "soap": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "q": "urn:oasis:names:tc:xacml:3.0:profile:saml2.0:v2:schema:protocol:wd-14",
    "x": "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17",
    "hl7": "urn:hl7-org:v3",
}
RESOURCE = "urn:oasis:names:tc:xacml:3.0:attribute-category:resource"
ACTION = "urn:oasis:names:tc:xacml:3.0:attribute-category:action"
SUBJECT = "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject"
ENVIRONMENT = "urn:oasis:names:tc:xacml:3.0:attribute-category:environment"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

# (category, AttributeId, DataType, element, expected attributes, IncludeInResult) — the spec table.
TABLE = [
    (
        RESOURCE,
        "urn:oasis:names:tc:xacml:2.0:resource:resource-id",
        "urn:hl7-org:v3#II",
        "InstanceIdentifier",
        {"root": "2.16.840.1.113883.2.4.6.3", "extension": PATIENT},
        "true",
    ),
    (
        RESOURCE,
        "urn:ihe:iti:appc:2016:document-entry:healthcare-facility-type-code",
        "urn:hl7-org:v3#CV",
        "CodedValue",
        {"code": "Z3", "codeSystem": "2.16.840.1.113883.2.4.15.1060"},
        "true",
    ),
    (
        RESOURCE,
        "urn:ihe:iti:appc:2016:author-institution:id",
        "urn:hl7-org:v3#II",
        "InstanceIdentifier",
        {"root": "2.16.528.1.1007.3.3", "extension": "00000659"},
        "true",
    ),
    (
        SUBJECT,
        "urn:oasis:names:tc:xacml:2.0:subject:role",
        "urn:hl7-org:v3#CV",
        "CodedValue",
        {"code": "01.015", "codeSystem": "2.16.840.1.113883.2.4.15.111"},
        "true",
    ),
    (
        SUBJECT,
        "urn:ihe:iti:xua:2017:subject:provider-identifier",
        "urn:hl7-org:v3#II",
        "InstanceIdentifier",
        {"root": "2.16.528.1.1007.3.1", "extension": "000095254", "assigningAuthorityName": "CIBG"},
        "true",
    ),
    (
        SUBJECT,
        "urn:nl:otv:names:tc:1.0:subject:provider-institution",
        "urn:hl7-org:v3#II",
        "InstanceIdentifier",
        {"root": "2.16.528.1.1007.3.3", "extension": "00000666"},
        "false",
    ),
    (
        SUBJECT,
        "urn:nl:otv:names:tc:1.0:subject:consulting-healthcare-facility-type-code",
        "urn:hl7-org:v3#CV",
        "CodedValue",
        {"code": "V6", "codeSystem": "2.16.840.1.113883.2.4.15.1060"},
        "false",
    ),
    (
        ENVIRONMENT,
        "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
        "urn:hl7-org:v3#CV",
        "CodedValue",
        {"code": "COC", "codeSystem": "2.16.840.1.113883.1.11.20448"},
        "false",
    ),
]


def _doc(**kw: object) -> etree._Element:
    question = make_question(
        DataCategory.GGC002,
        DataCategory.GGC013,
        requester_type="V6",
        purpose=Purpose.COC,
        **kw,  # type: ignore[arg-type]
    )
    body = build_closed_question(
        question, ENDPOINT, message_id="urn:uuid:11111111-2222-3333-4444-555555555555"
    )
    return etree.fromstring(body)


def _request(doc: etree._Element) -> etree._Element:
    (request,) = doc.xpath("/soap:Envelope/soap:Body/q:XACMLAuthzDecisionQuery/x:Request", namespaces=NS)
    return request


def test_soap_header_has_ws_addressing() -> None:
    doc = _doc()
    header = doc.find("soap:Header", NS)
    action = header.find("wsa:Action", NS)
    assert action.text == "XACMLAuthorizationDecisionQueryRequest"
    assert action.get(f"{{{NS['soap']}}}mustUnderstand") == "1"
    assert header.findtext("wsa:MessageID", namespaces=NS) == "urn:uuid:11111111-2222-3333-4444-555555555555"
    assert header.findtext("wsa:To", namespaces=NS) == ENDPOINT
    assert (
        header.findtext("wsa:ReplyTo/wsa:Address", namespaces=NS)
        == "http://www.w3.org/2005/08/addressing/anonymous"
    )
    assert len(doc.findall("soap:Body", NS)) == 1


def test_request_flags() -> None:
    request = _request(_doc())
    assert request.get("ReturnPolicyIdList") == "false"
    assert request.get("CombinedDecision") == "false"
    ids = [a.get(XML_ID) for a in request.findall("x:Attributes", NS)]
    assert ids == ["resource", "action0", "action1", "subject", "environment"]


@pytest.mark.parametrize(("category", "attribute_id", "data_type", "element", "expected", "include"), TABLE)
def test_attribute_table(category, attribute_id, data_type, element, expected, include) -> None:  # type: ignore[no-untyped-def]
    request = _request(_doc())
    blocks = [b for b in request.findall("x:Attributes", NS) if b.get("Category") == category]
    assert len(blocks) == 1
    attributes = [a for a in blocks[0].findall("x:Attribute", NS) if a.get("AttributeId") == attribute_id]
    assert len(attributes) == 1
    attribute = attributes[0]
    assert attribute.get("IncludeInResult") == include
    (value,) = attribute.findall("x:AttributeValue", NS)
    assert value.get("DataType") == data_type
    (hl7,) = list(value)
    assert hl7.tag == f"{{urn:hl7-org:v3}}{element}"
    assert dict(hl7.attrib) == expected


def test_one_action_block_per_category() -> None:
    request = _request(_doc())
    actions = [b for b in request.findall("x:Attributes", NS) if b.get("Category") == ACTION]
    assert [a.get(XML_ID) for a in actions] == ["action0", "action1"]
    codes = []
    for block in actions:
        (attribute,) = block.findall("x:Attribute", NS)
        assert attribute.get("AttributeId") == "urn:ihe:iti:appc:2016:document-entry:event-code"
        assert attribute.get("IncludeInResult") == "true"
        value = attribute.find("x:AttributeValue", NS)
        assert value.get("DataType") == "urn:hl7-org:v3#CV"
        coded = value.find("hl7:CodedValue", NS)
        assert coded.get("codeSystem") == "2.16.840.1.113883.2.4.3.111.5.10.1"
        codes.append(coded.get("code"))
    assert codes == ["GGC002", "GGC013"]


def test_no_mandated_attribute_without_mandate() -> None:
    assert "urn:nl:otv:names:tc:1.0:subject:mandated" not in etree.tostring(_doc()).decode()


def test_mandated_person() -> None:
    doc = _doc(mandated=ProfessionalId.uzi("900000009"))
    (value,) = doc.xpath(
        "//x:Attribute[@AttributeId='urn:nl:otv:names:tc:1.0:subject:mandated']", namespaces=NS
    )
    assert value.get("IncludeInResult") == "false"
    ii = value.find("x:AttributeValue/hl7:InstanceIdentifier", NS)
    assert dict(ii.attrib) == {
        "root": "2.16.528.1.1007.3.1",
        "extension": "900000009",
        "assigningAuthorityName": "CIBG",
    }


def test_include_all_in_result_option() -> None:
    question = make_question()
    body = build_closed_question(question, ENDPOINT, options=MitzOptions(include_all_in_result=True))
    flags = {a.get("IncludeInResult") for a in etree.fromstring(body).iter("{{{}}}Attribute".format(NS["x"]))}
    assert flags == {"true"}


def test_fresh_message_id_each_time() -> None:
    question = make_question()
    ids = {
        etree.fromstring(build_closed_question(question, ENDPOINT)).findtext(
            ".//wsa:MessageID", namespaces=NS
        )
        for _ in range(5)
    }
    assert len(ids) == 5
    assert all(i.startswith("urn:uuid:") for i in ids)


def test_headers_carry_request_id_and_soap_media_type() -> None:
    headers = closed_question_headers("urn:uuid:abc-def")
    assert headers["X-Request-Id"] == "abc-def"
    assert headers["Content-Type"].startswith("application/soap+xml; charset=UTF-8")
    assert 'action="XACMLAuthorizationDecisionQueryRequest"' in headers["Content-Type"]
    custom = closed_question_headers("urn:uuid:abc", MitzOptions(request_id_header="X-Correlation-Id"))
    assert custom["X-Correlation-Id"] == "abc"
    assert "X-Request-Id" not in custom
    assert "X-Request-Id" not in closed_question_headers("urn:uuid:abc", MitzOptions(request_id_header=None))


def test_user_text_cannot_inject_markup() -> None:
    evil = ProfessionalId('2.16.528.1.1007.3.1"/><x', "1&2<3>", "CIBG")
    body = build_closed_question(make_question(mandated=evil), ENDPOINT)
    doc = etree.fromstring(body)
    (ii,) = doc.xpath(
        "//x:Attribute[@AttributeId='urn:nl:otv:names:tc:1.0:subject:mandated']//hl7:InstanceIdentifier",
        namespaces=NS,
    )
    assert ii.get("extension") == "1&2<3>"
    assert ii.get("root") == '2.16.528.1.1007.3.1"/><x'


def test_roundtrip_through_server_half() -> None:
    question = make_question(DataCategory.GGC012, mandated=ProfessionalId.uzi("900000009"))
    parsed, message_id = parse_closed_question(
        build_closed_question(question, ENDPOINT, message_id="urn:uuid:1")
    )
    assert parsed == question
    assert message_id == "urn:uuid:1"


VECTORS = Path("/work/shared/vectors/mitz")


@pytest.mark.skipif(not (VECTORS / "example.xml").exists(), reason="public Mitz vectors not present")
def test_public_example_reads_as_the_same_question() -> None:
    """The knooppunt's example request means the same question as ours."""
    question, _ = parse_closed_question((VECTORS / "example.xml").read_bytes())
    assert question == make_question()


XML_XSD_STANDIN = b"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/XML/1998/namespace">
  <xs:attribute name="id" type="xs:ID"/>
  <xs:attribute name="lang" type="xs:language"/>
</xs:schema>"""


@pytest.mark.skipif(
    not (VECTORS / "xacml-core-v3-schema-wd-17.xsd").exists(), reason="public XACML schema not present"
)
def test_inner_request_validates_against_xacml_schema(tmp_path: Path) -> None:
    (tmp_path / "xml.xsd").write_bytes(XML_XSD_STANDIN)
    xsd = (VECTORS / "xacml-core-v3-schema-wd-17.xsd").read_bytes()
    xsd = xsd.replace(b"http://www.w3.org/2001/xml.xsd", b"xml.xsd")
    (tmp_path / "xacml.xsd").write_bytes(xsd)
    schema = etree.XMLSchema(etree.parse(str(tmp_path / "xacml.xsd")))
    for options in (MitzOptions(), MitzOptions(include_all_in_result=True)):
        question = make_question(DataCategory.GGC002, DataCategory.GGC012, mandated=ProfessionalId.uzi("9"))
        request = etree.fromstring(etree.tostring(build_xacml_request(question, options)))
        assert schema.validate(request), schema.error_log
