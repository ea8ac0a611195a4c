"""Mitz open question ("open autorisatievraag"): IHE XCPD Patient Location Query (ITI-56) with XUA.

Built from spec generic-functions §1.4. What the public sources give and what they do not:

* Request: SOAP 1.2 to ``{base}/openautorisatievraag``, ``wsa:Action``
  ``urn:ihe:iti:2009:PatientLocationQuery``, body ``PatientLocationQueryRequest`` (ns
  ``urn:ihe:iti:xcpd:2009``) with ``RequestedPatientId`` root = BSN OID, extension = BSN,
  ``assigningAuthorityName="NLMINBIZA"``; a ``wsse:Security`` header with an (unsigned) SAML 2.0
  XUA assertion: Issuer, bearer SubjectConfirmation, audience ``urn:oid:2.16.840.1.113883.2.4.3.111.2.1``,
  ``AuthnContextClassRef`` X509, ~10 minutes validity and the closed question's subject attributes.
  Attribute values are HL7v3 elements with ``xsi:type`` II/CE/CV (element names ``id``, ``Role``,
  ``consulting-facility-type-code``, ``PurposeOfUse`` as in the Bastion365 connector).
* Answer: ``wsa:Action`` ``urn:ihe:iti:2009:PatientLocationQueryResponse``, ``wsa:RelatesTo`` = our
  MessageID, zero or more ``PatientLocationResponse`` with ``HomeCommunityId``,
  ``CorrespondingPatientId``, ``SourceId`` and ``author-institution`` (root = URA OID => URA).
* **Not in the sources**: how the data categories of a location are carried. We read
  ``event-code`` child elements (``code``/``codeSystem`` attributes, Mitz category OID) of each
  location when present, as the spec's prose suggests; a location without them has no categories.
  Signing the assertion (Mitz makes it optional for the open question) is not implemented.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import attrs
from lxml import etree

from twiin import naming
from twiin.consent import _attrs as A
from twiin.consent._soap import envelope, new_message_id, read_envelope, serialize
from twiin.consent._xml import (
    HL7,
    MAX_XML_BYTES,
    MAX_XML_DEPTH,
    SAML2,
    SOAP12,
    WSSE,
    XCPD,
    XS,
    XSI,
    default_ns,
    q,
)
from twiin.consent.model import DataCategory, ProfessionalId, Purpose
from twiin.errors import ConsentMalformedAnswer, InvalidIdentifier
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura, UziNumber

__all__ = [
    "OpenQuestion",
    "PatientLocation",
    "build_open_answer",
    "build_open_question",
    "open_question_headers",
    "parse_open_answer",
    "parse_open_question",
]

BSN_AUTHORITY = "NLMINBIZA"
ASSERTION_LIFETIME = timedelta(minutes=10)


def _professional(value: ProfessionalId | UziNumber) -> ProfessionalId:
    return ProfessionalId.uzi(value) if isinstance(value, UziNumber) else value


@attrs.frozen
class OpenQuestion:
    """Where may data about ``patient`` be found, asked by ``requester`` for ``professional``?"""

    patient: Bsn
    requester_ura: Ura
    requester_type: ProviderType
    professional: ProfessionalId = attrs.field(converter=_professional)
    role: RoleCode
    issuer: str
    purpose: Purpose = Purpose.TREAT
    mandated: ProfessionalId | None = None


@attrs.frozen
class PatientLocation:
    """One place where the patient's data may be found (holder URA and categories when given)."""

    home_community_id: str
    source_id: str | None
    holder_ura: Ura | None
    categories: tuple[DataCategory, ...] = ()
    corresponding_root: str | None = attrs.field(default=None, repr=False)
    corresponding_extension: str | None = attrs.field(default=None, repr=False)


def open_question_headers(message_id: str, request_id_header: str | None = "X-Request-Id") -> dict[str, str]:
    """HTTP headers for the open question."""
    headers = {
        "Content-Type": f'application/soap+xml; charset=UTF-8; action="{A.OPEN_ACTION}"',
        "Accept": "application/soap+xml",
    }
    if request_id_header:
        headers[request_id_header] = message_id.removeprefix("urn:uuid:")
    return headers


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _saml_attribute(statement: etree._Element, name: str, element: str, xsi_type: str) -> etree._Element:
    attribute = etree.SubElement(statement, q(SAML2, "Attribute"))
    attribute.set("Name", name)
    value = etree.SubElement(attribute, q(SAML2, "AttributeValue"))
    hl7 = etree.SubElement(value, q(HL7, element), nsmap=default_ns(HL7))
    hl7.set(q(XSI, "type"), xsi_type)
    return hl7


def _set_ii(el: etree._Element, pro: ProfessionalId) -> None:
    el.set("root", pro.root)
    el.set("extension", pro.extension)
    if pro.assigning_authority_name:
        el.set("assigningAuthorityName", pro.assigning_authority_name)


def build_assertion(question: OpenQuestion, now: datetime, assertion_id: str | None = None) -> etree._Element:
    """The unsigned SAML 2.0 XUA assertion of the open question."""
    issued = _iso(now)
    assertion = etree.Element(q(SAML2, "Assertion"), nsmap={"saml2": SAML2, "xsi": XSI, "xs": XS})
    assertion.set("ID", assertion_id or f"_{uuid.uuid4().hex}")
    assertion.set("Version", "2.0")
    assertion.set("IssueInstant", issued)
    etree.SubElement(assertion, q(SAML2, "Issuer")).text = question.issuer
    subject = etree.SubElement(assertion, q(SAML2, "Subject"))
    etree.SubElement(subject, q(SAML2, "SubjectConfirmation")).set(
        "Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    )
    conditions = etree.SubElement(assertion, q(SAML2, "Conditions"))
    conditions.set("NotBefore", issued)
    conditions.set("NotOnOrAfter", _iso(now + ASSERTION_LIFETIME))
    audience = etree.SubElement(
        etree.SubElement(conditions, q(SAML2, "AudienceRestriction")), q(SAML2, "Audience")
    )
    audience.text = naming.MITZ_SAML_AUDIENCE
    authn = etree.SubElement(assertion, q(SAML2, "AuthnStatement"))
    authn.set("AuthnInstant", issued)
    ref = etree.SubElement(
        etree.SubElement(authn, q(SAML2, "AuthnContext")), q(SAML2, "AuthnContextClassRef")
    )
    ref.text = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
    statement = etree.SubElement(assertion, q(SAML2, "AttributeStatement"))
    _set_ii(_saml_attribute(statement, A.PROVIDER_IDENTIFIER, "id", "II"), question.professional)
    if question.mandated is not None:
        _set_ii(_saml_attribute(statement, A.MANDATED, "id", "II"), question.mandated)
    role = _saml_attribute(statement, A.ROLE, "Role", "CE")
    role.set("code", question.role.value)
    role.set("codeSystem", naming.UZI_ROLE_OID)
    role.set("codeSystemName", "RoleCodeNL")
    ura = _saml_attribute(statement, A.REQUESTER_URA, "id", "II")
    ura.set("root", naming.URA_OID)
    ura.set("extension", question.requester_ura.value)
    kind = _saml_attribute(statement, A.REQUESTER_TYPE, "consulting-facility-type-code", "CV")
    kind.set("code", question.requester_type.value)
    kind.set("codeSystem", naming.PROVIDER_TYPE_OID)
    purpose = _saml_attribute(statement, A.PURPOSE, "PurposeOfUse", "CE")
    purpose.set("code", question.purpose.value)
    purpose.set("codeSystem", naming.PURPOSE_OF_USE_OID)
    return assertion


def build_open_question(
    question: OpenQuestion,
    endpoint: str,
    *,
    message_id: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The SOAP 1.2 XCPD Patient Location Query for ``question``, with the XUA assertion."""
    env, header, body = envelope(A.OPEN_ACTION, message_id or new_message_id(), endpoint)
    security = etree.SubElement(header, q(WSSE, "Security"), nsmap={"wsse": WSSE})
    security.set(q(SOAP12, "mustUnderstand"), "1")
    security.append(build_assertion(question, now or datetime.now(UTC)))
    request = etree.SubElement(body, q(XCPD, "PatientLocationQueryRequest"), nsmap=default_ns(XCPD))
    patient = etree.SubElement(request, q(XCPD, "RequestedPatientId"))
    patient.set("root", naming.BSN_OID)
    patient.set("extension", question.patient.value)
    patient.set("assigningAuthorityName", BSN_AUTHORITY)
    return serialize(env)


def parse_open_question(
    body: bytes, *, max_bytes: int = MAX_XML_BYTES, max_depth: int = MAX_XML_DEPTH
) -> tuple[Bsn, str]:
    """Server half: the patient and MessageID of an open question (assertion not verified)."""
    message = read_envelope(body, max_bytes=max_bytes, max_depth=max_depth)
    if message.payload.tag != q(XCPD, "PatientLocationQueryRequest"):
        raise ConsentMalformedAnswer("SOAP Body is not a PatientLocationQueryRequest")
    patient = message.payload.find(q(XCPD, "RequestedPatientId"))
    if patient is None:
        raise ConsentMalformedAnswer("no RequestedPatientId")
    try:
        bsn = Bsn.from_ii(patient.get("root", ""), patient.get("extension", ""))
    except InvalidIdentifier:
        raise ConsentMalformedAnswer("RequestedPatientId is not a valid BSN") from None
    return bsn, message.message_id or ""


def build_open_answer(locations: Iterable[PatientLocation], *, relates_to: str) -> bytes:
    """Server half: a PatientLocationQueryResponse listing ``locations``."""
    env, _header, body = envelope(A.OPEN_RESPONSE_ACTION, new_message_id(), "", relates_to=relates_to)
    response = etree.SubElement(body, q(XCPD, "PatientLocationQueryResponse"), nsmap=default_ns(XCPD))
    for location in locations:
        item = etree.SubElement(response, q(XCPD, "PatientLocationResponse"))
        etree.SubElement(item, q(XCPD, "HomeCommunityId")).text = location.home_community_id
        if location.corresponding_root and location.corresponding_extension:
            cp = etree.SubElement(item, q(XCPD, "CorrespondingPatientId"))
            cp.set("root", location.corresponding_root)
            cp.set("extension", location.corresponding_extension)
        if location.source_id:
            etree.SubElement(item, q(XCPD, "SourceId")).text = location.source_id
        if location.holder_ura is not None:
            author = etree.SubElement(item, q(XCPD, "author-institution"))
            author.set("root", naming.URA_OID)
            author.set("extension", location.holder_ura.value)
        for category in location.categories:
            code = etree.SubElement(item, q(XCPD, "event-code"))
            code.set("code", category.code)
            code.set("codeSystem", category.oid)
    return serialize(env)


def _location(item: etree._Element) -> PatientLocation:
    home = item.findtext(q(XCPD, "HomeCommunityId"))
    if not home or not home.strip():
        raise ConsentMalformedAnswer("a PatientLocationResponse has no HomeCommunityId")
    author = item.find(q(XCPD, "author-institution"))
    ura = None
    if author is not None and author.get("root") == naming.URA_OID:
        try:
            ura = Ura(author.get("extension", ""))
        except InvalidIdentifier:
            raise ConsentMalformedAnswer("author-institution is not a valid URA") from None
    categories = []
    for code in item.iterfind(q(XCPD, "event-code")):
        if code.get("codeSystem") == naming.MITZ_DATA_CATEGORY_OID:
            try:
                categories.append(DataCategory.from_code(code.get("code", "")))
            except InvalidIdentifier:
                continue
    corresponding = item.find(q(XCPD, "CorrespondingPatientId"))
    source = item.findtext(q(XCPD, "SourceId"))
    return PatientLocation(
        home_community_id=home.strip(),
        source_id=source.strip() if source else None,
        holder_ura=ura,
        categories=tuple(dict.fromkeys(categories)),
        corresponding_root=corresponding.get("root") if corresponding is not None else None,
        corresponding_extension=corresponding.get("extension") if corresponding is not None else None,
    )


def parse_open_answer(
    body: bytes,
    *,
    message_id: str,
    status: int = 200,
    max_bytes: int = MAX_XML_BYTES,
    max_depth: int = MAX_XML_DEPTH,
) -> list[PatientLocation]:
    """The locations in Mitz's answer; empty means no location *or* no permission."""
    message = read_envelope(
        body, status=status, max_bytes=max_bytes, max_depth=max_depth, expect_relates_to=message_id
    )
    if message.relates_to is None:
        raise ConsentMalformedAnswer("open answer lacks wsa:RelatesTo")
    if message.payload.tag != q(XCPD, "PatientLocationQueryResponse"):
        raise ConsentMalformedAnswer("SOAP Body is not a PatientLocationQueryResponse")
    return [_location(item) for item in message.payload.iterfind(q(XCPD, "PatientLocationResponse"))]
