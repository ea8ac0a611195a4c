"""Mitz open question: XCPD Patient Location Query with an XUA assertion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from tests.unit.consent.conftest import PATIENT
from twiin import errors
from twiin.consent import (
    DataCategory,
    OpenQuestion,
    PatientLocation,
    ProfessionalId,
    build_open_question,
    parse_open_answer,
)
from twiin.consent.open_question import build_open_answer, parse_open_question
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura, UziNumber
from twiin.testing.fake_mitz import soap_fault

NS = {
    "soap": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "saml2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "xcpd": "urn:ihe:iti:xcpd:2009",
    "hl7": "urn:hl7-org:v3",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
ENDPOINT = "https://mitz.test/openautorisatievraag"
MID = "urn:uuid:5f0c0000-0000-4000-8000-000000000009"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _question(mandated: ProfessionalId | None = None) -> OpenQuestion:
    return OpenQuestion(
        patient=Bsn(PATIENT),
        requester_ura=Ura("666"),
        requester_type=ProviderType("Z3"),
        professional=UziNumber("000095254"),
        role=RoleCode("01.015"),
        issuer="urn:oid:2.16.528.1.1007.3.3.666",
        mandated=mandated,
    )


def _doc(mandated: ProfessionalId | None = None) -> etree._Element:
    return etree.fromstring(build_open_question(_question(mandated), ENDPOINT, message_id=MID, now=NOW))


def test_header_and_body() -> None:
    doc = _doc()
    assert doc.findtext("soap:Header/wsa:Action", namespaces=NS) == "urn:ihe:iti:2009:PatientLocationQuery"
    assert doc.findtext("soap:Header/wsa:MessageID", namespaces=NS) == MID
    assert doc.findtext("soap:Header/wsa:To", namespaces=NS) == ENDPOINT
    (patient,) = doc.xpath(
        "soap:Body/xcpd:PatientLocationQueryRequest/xcpd:RequestedPatientId", namespaces=NS
    )
    assert dict(patient.attrib) == {
        "root": "2.16.840.1.113883.2.4.6.3",
        "extension": PATIENT,
        "assigningAuthorityName": "NLMINBIZA",
    }


def test_xua_assertion() -> None:
    doc = _doc()
    security = doc.find("soap:Header/wsse:Security", NS)
    assert security.get(f"{{{NS['soap']}}}mustUnderstand") == "1"
    (assertion,) = security.findall("saml2:Assertion", NS)
    assert assertion.get("Version") == "2.0"
    assert assertion.get("IssueInstant") == "2026-11-22T12:00:00.000Z"
    assert assertion.findtext("saml2:Issuer", namespaces=NS) == "urn:oid:2.16.528.1.1007.3.3.666"
    assert (
        assertion.find("saml2:Subject/saml2:SubjectConfirmation", NS).get("Method")
        == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    )
    conditions = assertion.find("saml2:Conditions", NS)
    assert conditions.get("NotBefore") == "2026-11-22T12:00:00.000Z"
    assert conditions.get("NotOnOrAfter") == "2026-11-22T12:10:00.000Z"
    assert (
        conditions.findtext("saml2:AudienceRestriction/saml2:Audience", namespaces=NS)
        == "urn:oid:2.16.840.1.113883.2.4.3.111.2.1"
    )
    assert (
        assertion.findtext(
            "saml2:AuthnStatement/saml2:AuthnContext/saml2:AuthnContextClassRef", namespaces=NS
        )
        == "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
    )
    attrs = {
        a.get("Name"): a.find("saml2:AttributeValue/*", NS)
        for a in assertion.findall("saml2:AttributeStatement/saml2:Attribute", NS)
    }
    xsi_type = f"{{{NS['xsi']}}}type"
    assert set(attrs) == {
        "urn:ihe:iti:xua:2017:subject:provider-identifier",
        "urn:oasis:names:tc:xacml:2.0:subject:role",
        "urn:nl:otv:names:tc:1.0:subject:provider-institution",
        "urn:nl:otv:names:tc:1.0:subject:consulting-healthcare-facility-type-code",
        "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
    }
    pro = attrs["urn:ihe:iti:xua:2017:subject:provider-identifier"]
    assert (
        pro.tag,
        pro.get(xsi_type),
        pro.get("root"),
        pro.get("extension"),
        pro.get("assigningAuthorityName"),
    ) == ("{urn:hl7-org:v3}id", "II", "2.16.528.1.1007.3.1", "000095254", "CIBG")
    role = attrs["urn:oasis:names:tc:xacml:2.0:subject:role"]
    assert (role.tag, role.get(xsi_type), role.get("code"), role.get("codeSystem")) == (
        "{urn:hl7-org:v3}Role",
        "CE",
        "01.015",
        "2.16.840.1.113883.2.4.15.111",
    )
    ura = attrs["urn:nl:otv:names:tc:1.0:subject:provider-institution"]
    assert (ura.get("root"), ura.get("extension")) == ("2.16.528.1.1007.3.3", "00000666")
    kind = attrs["urn:nl:otv:names:tc:1.0:subject:consulting-healthcare-facility-type-code"]
    assert (kind.get(xsi_type), kind.get("code"), kind.get("codeSystem")) == (
        "CV",
        "Z3",
        "2.16.840.1.113883.2.4.15.1060",
    )
    purpose = attrs["urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"]
    assert (purpose.tag, purpose.get("code"), purpose.get("codeSystem")) == (
        "{urn:hl7-org:v3}PurposeOfUse",
        "TREAT",
        "2.16.840.1.113883.1.11.20448",
    )


def test_mandated_attribute() -> None:
    doc = _doc(ProfessionalId.uzi("900000009"))
    (value,) = doc.xpath(
        "//saml2:Attribute[@Name='urn:nl:otv:names:tc:1.0:subject:mandated']/saml2:AttributeValue/hl7:id",
        namespaces=NS,
    )
    assert value.get("extension") == "900000009"


LOCATIONS = [
    PatientLocation(
        "urn:oid:2.16.840.1.113883.2.4.6.6.1",
        "urn:oid:2.16.840.1.113883.2.4.6.6.90000017",
        Ura("659"),
        (DataCategory.GGC002,),
        "2.16.840.1.113883.2.4.6.3",
        PATIENT,
    ),
    PatientLocation("urn:oid:2.16.840.1.113883.2.4.6.6.2", None, None, ()),
]


def test_roundtrip_with_server_half() -> None:
    patient, message_id = parse_open_question(build_open_question(_question(), ENDPOINT, message_id=MID))
    assert patient == Bsn(PATIENT)
    assert message_id == MID
    found = parse_open_answer(build_open_answer(LOCATIONS, relates_to=MID), message_id=MID)
    assert found == LOCATIONS
    assert PATIENT not in repr(found)


def test_empty_answer_means_nothing_found() -> None:
    assert parse_open_answer(build_open_answer([], relates_to=MID), message_id=MID) == []


def test_relates_to_must_match() -> None:
    with pytest.raises(errors.ConsentRelatesToMismatch):
        parse_open_answer(build_open_answer([], relates_to="urn:uuid:other"), message_id=MID)


def test_fault_and_garbage() -> None:
    with pytest.raises(errors.ConsentSoapFault):
        parse_open_answer(soap_fault("soap:Receiver", "down"), message_id=MID, status=500)
    with pytest.raises(errors.ConsentNotSoap):
        parse_open_answer(b"hello", message_id=MID)
    with pytest.raises(errors.ConsentHTTPError):
        parse_open_answer(b"hello", message_id=MID, status=503)


def test_location_without_home_community_is_malformed() -> None:
    body = build_open_answer([PatientLocation(" ", None, None)], relates_to=MID)
    with pytest.raises(errors.ConsentMalformedAnswer):
        parse_open_answer(body, message_id=MID)
