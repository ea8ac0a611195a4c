"""Mitz closed question ("gesloten autorisatievraag"): the sans-I/O request builder and answer parser.

Wire format (spec generic-functions §1.3): a SOAP 1.2 envelope with WS-Addressing headers and an
``XACMLAuthzDecisionQuery`` holding one XACML 3.0 ``Request``; attribute values are HL7v3 ``II``
and ``CV`` elements. Choices where the public implementations disagree:

* ``IncludeInResult``: the Rust client's split (true for the resource, action and the
  professional's role/identifier; false for mandated, requester URA/type and purpose) by default,
  so that each Result echoes patient, holder and category; ``MitzOptions(include_all_in_result=True)``
  sets every attribute true like the Go knooppunt (the Bastion365 client's all-false cannot be
  matched to several categories and is not offered).
* ``wsa:Action`` and ``wsa:To`` carry ``soap:mustUnderstand="1"`` on Action (RS/B365), ``To`` is
  the real endpoint URL (the knooppunt's hard-coded placeholder is a bug).
* ``Content-Type`` is ``application/soap+xml; charset=UTF-8; action="..."`` (RS; B365 omits the
  action parameter, KP's ``text/xml`` is the SOAP 1.1 media type and is not used).
* The answer's ``Response`` is looked up anywhere under the SOAP Body, so both a bare XACML
  ``Response`` (knooppunt mock) and one wrapped in a SAML ``Assertion`` are read.
* Results must echo the patient, holder and category (``require_echo``). A single-category
  question may be answered by a single echo-less Result when ``require_echo=False`` (the
  knooppunt mock answers that way).

The optional enveloped XML signature of the request that a Mitz admission may require lives in
:mod:`twiin.consent.xmldsig` (``MitzClient(sign_requests=True)``), off by default.
"""

from __future__ import annotations

import attrs
from lxml import etree

from twiin import naming
from twiin.consent import _attrs as A
from twiin.consent._soap import envelope, new_message_id, read_envelope, serialize
from twiin.consent._xml import HL7, MAX_XML_BYTES, MAX_XML_DEPTH, XACML, XACML_SAML, XML_NS, default_ns, q
from twiin.consent.model import (
    ConsentDecision,
    ConsentQuestion,
    DataCategory,
    Decision,
    ProfessionalId,
    Purpose,
)
from twiin.errors import (
    ConsentDuplicateResult,
    ConsentError,
    ConsentIndeterminate,
    ConsentMalformedAnswer,
    ConsentMissingResult,
    ConsentNotApplicable,
    ConsentUnaskedCategory,
    ConsentUnknownDecision,
    ConsentWrongHolder,
    ConsentWrongPatient,
    InvalidIdentifier,
)
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura

__all__ = [
    "MitzOptions",
    "build_closed_question",
    "build_xacml_request",
    "closed_question_headers",
    "parse_closed_answer",
    "parse_closed_question",
]


@attrs.frozen
class MitzOptions:
    """Wire choices where Mitz implementations differ (see the module docstring)."""

    include_all_in_result: bool = False
    request_id_header: str | None = "X-Request-Id"
    content_type_action: bool = True
    require_echo: bool = True
    max_response_bytes: int = MAX_XML_BYTES
    max_depth: int = MAX_XML_DEPTH


DEFAULT_OPTIONS = MitzOptions()


def closed_question_headers(message_id: str, options: MitzOptions = DEFAULT_OPTIONS) -> dict[str, str]:
    """HTTP headers for a closed question: SOAP 1.2 media type and ``X-Request-Id`` = MessageID UUID."""
    content_type = "application/soap+xml; charset=UTF-8"
    if options.content_type_action:
        content_type += f'; action="{A.CLOSED_ACTION}"'
    headers = {"Content-Type": content_type, "Accept": "application/soap+xml"}
    if options.request_id_header:
        headers[options.request_id_header] = message_id.removeprefix("urn:uuid:")
    return headers


# -- building -----------------------------------------------------------------------------------


def _ii(parent: etree._Element, root: str, extension: str, authority: str | None = None) -> None:
    el = etree.SubElement(parent, q(HL7, "InstanceIdentifier"), nsmap=default_ns(HL7))
    el.set("root", root)
    el.set("extension", extension)
    if authority:
        el.set("assigningAuthorityName", authority)


def _cv(parent: etree._Element, code: str, system: str) -> None:
    el = etree.SubElement(parent, q(HL7, "CodedValue"), nsmap=default_ns(HL7))
    el.set("code", code)
    el.set("codeSystem", system)


def _attributes(request: etree._Element, category: str, xml_id: str) -> etree._Element:
    block = etree.SubElement(request, q(XACML, "Attributes"))
    block.set("Category", category)
    block.set(q(XML_NS, "id"), xml_id)
    return block


def _attribute(block: etree._Element, attribute_id: str, data_type: str, include: bool) -> etree._Element:
    attribute = etree.SubElement(block, q(XACML, "Attribute"))
    attribute.set("AttributeId", attribute_id)
    attribute.set("IncludeInResult", "true" if include else "false")
    value = etree.SubElement(attribute, q(XACML, "AttributeValue"))
    value.set("DataType", data_type)
    return value


def _request(question: ConsentQuestion, options: MitzOptions) -> etree._Element:
    echo_all = options.include_all_in_result
    request = etree.Element(q(XACML, "Request"), nsmap=default_ns(XACML))
    request.set("ReturnPolicyIdList", "false")
    request.set("CombinedDecision", "false")

    resource = _attributes(request, A.RESOURCE, "resource")
    bsn = question.patient.to_ii()
    _ii(_attribute(resource, A.RESOURCE_ID, A.DT_II, True), bsn.root, bsn.extension)
    _cv(
        _attribute(resource, A.HOLDER_TYPE, A.DT_CV, True),
        question.holder_type.value,
        naming.PROVIDER_TYPE_OID,
    )
    _ii(_attribute(resource, A.HOLDER_URA, A.DT_II, True), naming.URA_OID, question.holder_ura.value)

    for index, category in enumerate(question.categories):
        action = _attributes(request, A.ACTION, f"action{index}")
        _cv(_attribute(action, A.EVENT_CODE, A.DT_CV, True), category.code, category.oid)

    subject = _attributes(request, A.SUBJECT, "subject")
    _cv(_attribute(subject, A.ROLE, A.DT_CV, True), question.role.value, naming.UZI_ROLE_OID)
    pro = question.professional
    _ii(
        _attribute(subject, A.PROVIDER_IDENTIFIER, A.DT_II, True),
        pro.root,
        pro.extension,
        pro.assigning_authority_name,
    )
    if question.mandated is not None:
        m = question.mandated
        _ii(
            _attribute(subject, A.MANDATED, A.DT_II, echo_all),
            m.root,
            m.extension,
            m.assigning_authority_name,
        )
    _ii(_attribute(subject, A.REQUESTER_URA, A.DT_II, echo_all), naming.URA_OID, question.requester_ura.value)
    _cv(
        _attribute(subject, A.REQUESTER_TYPE, A.DT_CV, echo_all),
        question.requester_type.value,
        naming.PROVIDER_TYPE_OID,
    )

    environment = _attributes(request, A.ENVIRONMENT, "environment")
    _cv(_attribute(environment, A.PURPOSE, A.DT_CV, echo_all), question.purpose.value, question.purpose.oid)
    return request


def build_closed_question(
    question: ConsentQuestion,
    endpoint: str,
    *,
    message_id: str | None = None,
    options: MitzOptions = DEFAULT_OPTIONS,
) -> bytes:
    """The SOAP 1.2 closed-question request for ``question``, addressed (``wsa:To``) to ``endpoint``."""
    env, _header, body = envelope(A.CLOSED_ACTION, message_id or new_message_id(), endpoint)
    query = etree.SubElement(body, q(XACML_SAML, "XACMLAuthzDecisionQuery"), nsmap={"xacml-saml": XACML_SAML})
    query.append(_request(question, options))
    return serialize(env)


# -- reading attribute values ----------------------------------------------------------------------


def _values(block: etree._Element, attribute_id: str) -> list[etree._Element]:
    found: list[etree._Element] = []
    for attribute in block.iterfind(q(XACML, "Attribute")):
        if attribute.get("AttributeId") == attribute_id:
            for value in attribute.iterfind(q(XACML, "AttributeValue")):
                found.extend(c for c in value if isinstance(c.tag, str))
    return found


def _single(blocks: list[etree._Element], attribute_id: str, local: str) -> etree._Element | None:
    values = [v for b in blocks for v in _values(b, attribute_id)]
    if not values:
        return None
    if len(values) > 1:
        raise ConsentMalformedAnswer(f"attribute {attribute_id} appears more than once")
    if values[0].tag != q(HL7, local):
        raise ConsentMalformedAnswer(f"attribute {attribute_id} is not an HL7v3 {local}")
    return values[0]


def _blocks(parent: etree._Element, category: str) -> list[etree._Element]:
    return [b for b in parent.iterfind(q(XACML, "Attributes")) if b.get("Category") == category]


# -- server side: reading a request (used by the fake Mitz and PDP-side tests) ----------------------------


def _req_ii(blocks: list[etree._Element], attribute_id: str) -> tuple[str, str, str | None]:
    el = _single(blocks, attribute_id, "InstanceIdentifier")
    if el is None:
        raise ConsentMalformedAnswer(f"request lacks {attribute_id}")
    return el.get("root", ""), el.get("extension", ""), el.get("assigningAuthorityName")


def _req_cv(blocks: list[etree._Element], attribute_id: str, system: str) -> str:
    el = _single(blocks, attribute_id, "CodedValue")
    if el is None:
        raise ConsentMalformedAnswer(f"request lacks {attribute_id}")
    if el.get("codeSystem") != system:
        raise ConsentMalformedAnswer(f"{attribute_id} has the wrong code system")
    return el.get("code", "")


def parse_closed_question(
    body: bytes, *, max_bytes: int = MAX_XML_BYTES, max_depth: int = MAX_XML_DEPTH
) -> tuple[ConsentQuestion, str]:
    """Read a closed-question request back into a :class:`ConsentQuestion` and its MessageID.

    The server half (a Mitz stand-in or a test); raises :class:`~twiin.errors.ConsentError`
    subclasses or :class:`~twiin.errors.UnsafeXML` for anything that is not a valid question.
    """
    message = read_envelope(body, max_bytes=max_bytes, max_depth=max_depth)
    if message.payload.tag != q(XACML_SAML, "XACMLAuthzDecisionQuery"):
        raise ConsentMalformedAnswer("SOAP Body is not an XACMLAuthzDecisionQuery")
    requests = message.payload.findall(q(XACML, "Request"))
    if len(requests) != 1:
        raise ConsentMalformedAnswer("query must hold exactly one XACML Request")
    request = requests[0]
    resource = _blocks(request, A.RESOURCE)
    subject = _blocks(request, A.SUBJECT)
    environment = _blocks(request, A.ENVIRONMENT)
    try:
        root, ext, _ = _req_ii(resource, A.RESOURCE_ID)
        patient = Bsn.from_ii(root, ext)
        root, ext, _ = _req_ii(resource, A.HOLDER_URA)
        holder = Ura.from_ii(root, ext)
        holder_type = ProviderType(_req_cv(resource, A.HOLDER_TYPE, naming.PROVIDER_TYPE_OID))
        categories = []
        for block in _blocks(request, A.ACTION):
            categories.append(
                DataCategory.from_code(_req_cv([block], A.EVENT_CODE, naming.MITZ_DATA_CATEGORY_OID))
            )
        role = RoleCode(_req_cv(subject, A.ROLE, naming.UZI_ROLE_OID))
        pro = ProfessionalId(*_req_ii(subject, A.PROVIDER_IDENTIFIER))
        mandated = None
        if _single(subject, A.MANDATED, "InstanceIdentifier") is not None:
            mandated = ProfessionalId(*_req_ii(subject, A.MANDATED))
        root, ext, _ = _req_ii(subject, A.REQUESTER_URA)
        requester = Ura.from_ii(root, ext)
        requester_type = ProviderType(_req_cv(subject, A.REQUESTER_TYPE, naming.PROVIDER_TYPE_OID))
        purpose = Purpose(_req_cv(environment, A.PURPOSE, naming.PURPOSE_OF_USE_OID))
        question = ConsentQuestion(
            patient=patient,
            holder_ura=holder,
            holder_type=holder_type,
            requester_ura=requester,
            requester_type=requester_type,
            professional=pro,
            role=role,
            categories=tuple(categories),
            purpose=purpose,
            mandated=mandated,
        )
    except (InvalidIdentifier, ValueError) as exc:
        raise ConsentMalformedAnswer(f"invalid closed question: {type(exc).__name__}") from None
    except ConsentMalformedAnswer:
        raise
    except ConsentError as exc:
        raise ConsentMalformedAnswer(f"invalid closed question: {exc.message}") from None
    return question, message.message_id or ""


# -- client side: reading the answer -----------------------------------------------------------------


_DECISIONS = {"Permit": Decision.PERMIT, "Deny": Decision.DENY}


def _decision_error(value: str, category: DataCategory | None) -> ConsentError:
    code = category.code if category else None
    where = f" for {code}" if code else ""
    if value == "NotApplicable":
        return ConsentNotApplicable(f"Mitz answered NotApplicable{where}: no consent", category=code)
    if value == "Indeterminate":
        return ConsentIndeterminate(f"Mitz answered Indeterminate{where}: no consent", category=code)
    shown = value[:40] if value.isascii() and value.isalnum() else "<unprintable>"
    return ConsentUnknownDecision(f"unknown decision {shown!r}{where}")


def _check_patient(result: etree._Element, question: ConsentQuestion, require: bool) -> None:
    el = _single(_blocks(result, A.RESOURCE), A.RESOURCE_ID, "InstanceIdentifier")
    if el is None:
        if require:
            raise ConsentMalformedAnswer("a Result does not echo the patient")
        return
    if el.get("root") != naming.BSN_OID or el.get("extension") != question.patient.value:
        raise ConsentWrongPatient("a Result is about another patient than the one asked")


def _check_holder(result: etree._Element, question: ConsentQuestion, require: bool) -> None:
    el = _single(_blocks(result, A.RESOURCE), A.HOLDER_URA, "InstanceIdentifier")
    if el is None:
        if require:
            raise ConsentMalformedAnswer("a Result does not echo the data holder")
        return
    try:
        ura = Ura.from_ii(el.get("root", ""), el.get("extension", ""))
    except InvalidIdentifier:
        raise ConsentWrongHolder("a Result is about another data holder than the one asked") from None
    if ura != question.holder_ura:
        raise ConsentWrongHolder(
            f"a Result is about data holder {ura.value}, not {question.holder_ura.value}"
        )


def _echoed_category(result: etree._Element) -> DataCategory | None:
    el = _single(_blocks(result, A.ACTION), A.EVENT_CODE, "CodedValue")
    if el is None:
        return None
    if el.get("codeSystem") != naming.MITZ_DATA_CATEGORY_OID:
        raise ConsentMalformedAnswer("a Result's category has the wrong code system")
    try:
        return DataCategory.from_code(el.get("code", ""))
    except InvalidIdentifier:
        raise ConsentUnaskedCategory("a Result is about an unknown data category") from None


def parse_closed_answer(
    body: bytes,
    question: ConsentQuestion,
    *,
    status: int = 200,
    message_id: str | None = None,
    options: MitzOptions = DEFAULT_OPTIONS,
) -> ConsentDecision:
    """Read Mitz's answer to ``question`` into a per-category :class:`ConsentDecision`.

    Raises a distinct :class:`~twiin.errors.ConsentError` subclass for a SOAP fault, an HTTP
    error, a non-SOAP body, ``NotApplicable``, ``Indeterminate``, an unknown decision, a missing,
    duplicate or unasked category, and a Result about another patient or holder;
    :class:`~twiin.errors.UnsafeXML` for hostile XML. Never returns a partial decision.
    """
    message = read_envelope(
        body,
        status=status,
        max_bytes=options.max_response_bytes,
        max_depth=options.max_depth,
        expect_relates_to=message_id,
    )
    responses = list(message.payload.iter(q(XACML, "Response")))
    if message.payload.tag == q(XACML, "Response"):
        responses = [message.payload]
    if len(responses) != 1:
        raise ConsentMalformedAnswer(f"expected one XACML Response, found {len(responses)}")
    results = responses[0].findall(q(XACML, "Result"))
    if not results:
        raise ConsentMissingResult("the XACML Response holds no Result")
    single = len(question.categories) == 1 and len(results) == 1
    decisions: dict[DataCategory, Decision] = {}
    for result in results:
        decision_el = result.find(q(XACML, "Decision"))
        value = (decision_el.text or "").strip() if decision_el is not None else ""
        _check_patient(result, question, options.require_echo)
        _check_holder(result, question, options.require_echo)
        category = _echoed_category(result)
        if category is None:
            if value not in _DECISIONS:
                raise _decision_error(value, question.categories[0] if single else None)
            if options.require_echo or not single:
                raise ConsentMalformedAnswer("a Result does not echo its data category")
            category = question.categories[0]
        if category not in question.categories:
            raise ConsentUnaskedCategory(f"a Result is about {category.code}, which was not asked")
        if category in decisions:
            raise ConsentDuplicateResult(f"two Results for {category.code}")
        if value not in _DECISIONS:
            raise _decision_error(value, category)
        decisions[category] = _DECISIONS[value]
    missing = [c.code for c in question.categories if c not in decisions]
    if missing:
        raise ConsentMissingResult(f"no Result for {', '.join(missing)}")
    return ConsentDecision(question.categories, decisions, source="mitz", message_id=message_id)


def build_xacml_request(question: ConsentQuestion, options: MitzOptions = DEFAULT_OPTIONS) -> etree._Element:
    """The bare XACML ``Request`` element for ``question`` (for schema validation and signing)."""
    return _request(question, options)
