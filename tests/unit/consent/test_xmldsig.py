"""The optional XML signature of the closed question: sign, verify, tamper, wrap; checked by signxml too."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from tests.unit.consent.conftest import ENDPOINT, make_question
from twiin import errors
from twiin.consent import build_closed_question, parse_closed_question
from twiin.consent.xmldsig import sign_closed_question, verify_closed_question
from twiin.credentials import Credentials
from twiin.testing.pki import TestPKI

DS = "http://www.w3.org/2000/09/xmldsig#"
X = "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17"


@pytest.fixture(scope="module", params=["rsa2048", "ec256"])
def identity(request: pytest.FixtureRequest, pki: TestPKI):  # type: ignore[no-untyped-def]
    return pki.issue_server(ura="659", key_type=request.param)


def _signed(identity) -> bytes:  # type: ignore[no-untyped-def]
    return sign_closed_question(build_closed_question(make_question(), ENDPOINT), identity.credentials())


def test_sign_and_verify(identity) -> None:  # type: ignore[no-untyped-def]
    signed = _signed(identity)
    assert verify_closed_question(signed) == identity.credentials().certificate
    question, _ = parse_closed_question(signed)
    assert question == make_question()
    doc = etree.fromstring(signed)
    query = doc.find(
        ".//{urn:oasis:names:tc:xacml:3.0:profile:saml2.0:v2:schema:protocol:wd-14}XACMLAuthzDecisionQuery"
    )
    assert query[0].tag == f"{{{DS}}}Signature"
    assert query[1].tag == f"{{{X}}}Request"
    uri = query[0].find(f".//{{{DS}}}Reference").get("URI")
    assert uri == "#" + query[1].get("{http://www.w3.org/XML/1998/namespace}id")


def test_independent_verifier_accepts_it(identity) -> None:  # type: ignore[no-untyped-def]
    signxml = pytest.importorskip("signxml")
    from signxml.algorithms import SignatureMethod
    from signxml.verifier import SignatureConfiguration

    result = signxml.XMLVerifier().verify(
        _signed(identity),
        x509_cert=identity.cert_pem().decode(),
        expect_config=SignatureConfiguration(signature_methods=frozenset(SignatureMethod)),
    )
    assert etree.QName(result.signed_xml).localname == "Request"
    assert b"GGC002" in etree.tostring(result.signed_xml)


def _tamper(signed: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    doc = etree.fromstring(signed)
    edit(doc)
    return etree.tostring(doc)


def _code(doc: etree._Element) -> etree._Element:
    return doc.find(".//{urn:hl7-org:v3}CodedValue[@code='GGC002']")


TAMPERING = {
    "changed_category": lambda d: _code(d).set("code", "GGC013"),
    "changed_patient": lambda d: d.find(".//{urn:hl7-org:v3}InstanceIdentifier").set(
        "extension", "111222333"
    ),
    "changed_signed_info": lambda d: (
        d.find(f".//{{{DS}}}DigestMethod").addnext(etree.Comment("x"))
        or d.find(f".//{{{DS}}}Reference").set("Id", "x")
    ),
    "bad_signature_value": lambda d: setattr(
        d.find(f".//{{{DS}}}SignatureValue"), "text", base64.b64encode(b"\x00" * 64).decode()
    ),
    "removed_signature": lambda d: (
        d.find(f".//{{{DS}}}Signature").getparent().remove(d.find(f".//{{{DS}}}Signature"))
    ),
    "reference_elsewhere": lambda d: d.find(f".//{{{DS}}}Reference").set("URI", "#other"),
    "not_base64": lambda d: setattr(d.find(f".//{{{DS}}}DigestValue"), "text", "%%%"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected(identity, case: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ConsentSignatureError):
        verify_closed_question(_tamper(_signed(identity), TAMPERING[case]))


def test_signature_wrapping_is_refused(identity) -> None:  # type: ignore[no-untyped-def]
    """A second, attacker-controlled Request with the signed id elsewhere does not pass."""
    doc = etree.fromstring(_signed(identity))
    request = doc.find(f".//{{{X}}}Request")
    clone = etree.fromstring(etree.tostring(request))
    for block in clone.iterfind(f"{{{X}}}Attributes"):  # duplicate xml:ids are refused by the parser anyway
        del block.attrib["{http://www.w3.org/XML/1998/namespace}id"]
    header = doc.find("{http://www.w3.org/2003/05/soap-envelope}Header")
    header.append(clone)
    request.set("{http://www.w3.org/XML/1998/namespace}id", "_forged")
    _code(request).set("code", "GGC013")
    with pytest.raises(errors.ConsentSignatureError):
        verify_closed_question(etree.tostring(doc))


def test_signing_needs_a_usable_key(pki: TestPKI) -> None:
    ident = pki.issue_server(ura="659", key_type="ec256")
    hsm = Credentials.from_signer(ident.credentials().chain, lambda data, alg: b"\x01" * 64)
    signed = sign_closed_question(build_closed_question(make_question(), ENDPOINT), hsm)
    with pytest.raises(errors.ConsentSignatureError):
        verify_closed_question(signed)  # the fake HSM signs garbage; the verifier notices
    with pytest.raises(errors.ConfigurationError):
        sign_closed_question(b"<a/>", ident.credentials())


def test_duplicate_xml_ids_are_refused(identity) -> None:  # type: ignore[no-untyped-def]
    doc = etree.fromstring(_signed(identity))
    request = doc.find(f".//{{{X}}}Request")
    doc.find("{http://www.w3.org/2003/05/soap-envelope}Header").append(
        etree.fromstring(etree.tostring(request))
    )
    with pytest.raises(errors.TwiinError):
        verify_closed_question(etree.tostring(doc))
