"""A fake Mitz for tests and the sandbox: real SOAP answers from a table of consents.

:class:`FakeMitz` is a server block (``handle(IncomingRequest) -> Answer``) that answers the
closed question at ``/geslotenautorisatievraag/xacml3``, the open question at
``/openautorisatievraag`` and subscriptions at ``/abonnementen/fhir/Subscription``. A
:class:`Misbehaviour` switch makes it answer with the error cases a client must survive.
This is team-written, not an independent Mitz: it only proves SDK <-> fake behaviour.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Iterable

import attrs
from lxml import etree

from twiin import naming
from twiin.consent import _attrs as A
from twiin.consent._soap import envelope, new_message_id, serialize
from twiin.consent._xml import HL7, SOAP12, XACML, default_ns, q
from twiin.consent.mitz import parse_closed_question
from twiin.consent.model import ConsentQuestion, DataCategory, Decision
from twiin.consent.open_question import PatientLocation, build_open_answer, parse_open_question
from twiin.consent.xmldsig import verify_closed_question
from twiin.errors import TwiinError
from twiin.identifiers import Bsn, ProviderType, Ura
from twiin.serving import Answer, IncomingRequest

__all__ = ["FakeConsent", "FakeMitz", "Misbehaviour", "closed_answer", "soap_fault"]

SOAP_CT = "application/soap+xml; charset=UTF-8"


class Misbehaviour(enum.Enum):
    """Ways the fake Mitz can misbehave on the closed question."""

    NONE = "none"
    SOAP_FAULT = "soap_fault"
    SENDER_FAULT = "sender_fault"
    HTTP_ERROR = "http_error"
    NOT_SOAP = "not_soap"
    REDIRECT = "redirect"
    NOT_APPLICABLE = "not_applicable"
    INDETERMINATE = "indeterminate"
    UNKNOWN_DECISION = "unknown_decision"
    DUPLICATE = "duplicate"
    MISSING = "missing"
    UNASKED = "unasked"
    WRONG_PATIENT = "wrong_patient"
    WRONG_HOLDER = "wrong_holder"
    NO_ECHO = "no_echo"
    OVERSIZE = "oversize"
    DOCTYPE = "doctype"


@attrs.frozen
class FakeConsent:
    """One row of the fake's consent table; ``None`` fields match anything."""

    patient: Bsn
    category: DataCategory
    decision: Decision = Decision.PERMIT
    holder_ura: Ura | None = None
    requester_type: ProviderType | None = None
    requester_ura: Ura | None = None

    def matches(self, question: ConsentQuestion, category: DataCategory) -> bool:
        """True when this row applies to ``category`` of ``question``."""
        return (
            self.patient == question.patient
            and self.category.covers(category)
            and self.holder_ura in (None, question.holder_ura)
            and self.requester_type in (None, question.requester_type)
            and self.requester_ura in (None, question.requester_ura)
        )


def decide(consents: Iterable[FakeConsent], question: ConsentQuestion, category: DataCategory) -> Decision:
    """Deny when any matching row denies, Permit when one permits, Deny when none matches."""
    rows = [c for c in consents if c.matches(question, category)]
    if any(r.decision is Decision.DENY for r in rows):
        return Decision.DENY
    return Decision.PERMIT if rows else Decision.DENY


def _ii(parent: etree._Element, root: str, extension: str) -> None:
    el = etree.SubElement(parent, q(HL7, "InstanceIdentifier"), nsmap=default_ns(HL7))
    el.set("root", root)
    el.set("extension", extension)


def _cv(parent: etree._Element, code: str, system: str) -> None:
    el = etree.SubElement(parent, q(HL7, "CodedValue"), nsmap=default_ns(HL7))
    el.set("code", code)
    el.set("codeSystem", system)


def _echo(parent: etree._Element, attribute_id: str, data_type: str) -> etree._Element:
    attribute = etree.SubElement(parent, q(XACML, "Attribute"))
    attribute.set("AttributeId", attribute_id)
    attribute.set("IncludeInResult", "true")
    value = etree.SubElement(attribute, q(XACML, "AttributeValue"))
    value.set("DataType", data_type)
    return value


@attrs.frozen
class ResultSpec:
    """One Result to put in a closed answer (what the fake echoes)."""

    decision: str
    patient: str | None
    holder: str | None
    holder_type: str | None
    category: str | None


def closed_answer(results: Iterable[ResultSpec], relates_to: str | None = None) -> bytes:
    """A SOAP 1.2 closed-question answer with one XACML Result per ``results`` entry."""
    env, _h, body = envelope(A.CLOSED_RESPONSE_ACTION, new_message_id(), "", relates_to=relates_to)
    response = etree.SubElement(body, q(XACML, "Response"), nsmap=default_ns(XACML))
    for spec in results:
        result = etree.SubElement(response, q(XACML, "Result"))
        etree.SubElement(result, q(XACML, "Decision")).text = spec.decision
        status = etree.SubElement(result, q(XACML, "Status"))
        etree.SubElement(status, q(XACML, "StatusCode")).set("Value", A.STATUS_OK)
        if spec.patient or spec.holder or spec.holder_type:
            resource = etree.SubElement(result, q(XACML, "Attributes"))
            resource.set("Category", A.RESOURCE)
            if spec.patient:
                _ii(_echo(resource, A.RESOURCE_ID, A.DT_II), naming.BSN_OID, spec.patient)
            if spec.holder_type:
                _cv(_echo(resource, A.HOLDER_TYPE, A.DT_CV), spec.holder_type, naming.PROVIDER_TYPE_OID)
            if spec.holder:
                _ii(_echo(resource, A.HOLDER_URA, A.DT_II), naming.URA_OID, spec.holder)
        if spec.category:
            action = etree.SubElement(result, q(XACML, "Attributes"))
            action.set("Category", A.ACTION)
            _cv(_echo(action, A.EVENT_CODE, A.DT_CV), spec.category, naming.MITZ_DATA_CATEGORY_OID)
    return serialize(env)


def soap_fault(code: str, reason: str, subcode: str | None = None) -> bytes:
    """A SOAP 1.2 Fault envelope (``code`` like ``soap:Receiver``)."""
    env = etree.Element(q(SOAP12, "Envelope"), nsmap={"soap": SOAP12})
    body = etree.SubElement(env, q(SOAP12, "Body"))
    fault = etree.SubElement(body, q(SOAP12, "Fault"))
    code_el = etree.SubElement(fault, q(SOAP12, "Code"))
    etree.SubElement(code_el, q(SOAP12, "Value")).text = code
    if subcode:
        sub = etree.SubElement(code_el, q(SOAP12, "Subcode"))
        etree.SubElement(sub, q(SOAP12, "Value")).text = subcode
    reason_el = etree.SubElement(fault, q(SOAP12, "Reason"))
    text = etree.SubElement(reason_el, q(SOAP12, "Text"))
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = reason
    return serialize(env)


OTHER_BSN = "111222333"


@attrs.define
class FakeMitz:
    """A table-driven Mitz stand-in; ``requests`` records every request body it received."""

    consents: list[FakeConsent] = attrs.field(factory=list, converter=list)
    locations: dict[Bsn, list[PatientLocation]] = attrs.field(factory=dict)
    misbehaviour: Misbehaviour = Misbehaviour.NONE
    require_client_certificate: bool = False
    require_signature: bool = False
    subscription_status: int = 201
    requests: list[IncomingRequest] = attrs.field(factory=list, repr=False)
    subscriptions: list[dict[str, object]] = attrs.field(factory=list, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def handle(self, request: IncomingRequest) -> Answer:
        """Answer one HTTP request (the server block)."""
        with self._lock:
            self.requests.append(request)
        if self.require_client_certificate and request.peer_certificate is None:
            return Answer(403, {"content-type": "text/plain"}, b"client certificate required")
        path = request.path.rstrip("/")
        if request.method != "POST":
            return Answer(405, {"content-type": "text/plain", "allow": "POST"}, b"method not allowed")
        if path.endswith("/" + A.CLOSED_PATH):
            return self._closed(request)
        if path.endswith("/" + A.OPEN_PATH):
            return self._open(request)
        if path.endswith("/" + A.SUBSCRIPTION_PATH):
            return self._subscribe(request)
        return Answer(404, {"content-type": "text/plain"}, b"not found")

    __call__ = handle

    # -- closed question --------------------------------------------------------------------------
    def _closed(self, request: IncomingRequest) -> Answer:
        mode = self.misbehaviour
        if mode is Misbehaviour.HTTP_ERROR:
            return Answer(503, {"content-type": "text/plain"}, b"service unavailable")
        if mode is Misbehaviour.NOT_SOAP:
            return Answer(200, {"content-type": "text/html"}, b"<html><body>maintenance</body></html>")
        if mode is Misbehaviour.REDIRECT:
            return Answer(302, {"location": "https://elsewhere.example/mitz"}, b"")
        if mode is Misbehaviour.SOAP_FAULT:
            return Answer(500, {"content-type": SOAP_CT}, soap_fault("soap:Receiver", "internal error"))
        if mode is Misbehaviour.OVERSIZE:
            return Answer(200, {"content-type": SOAP_CT}, b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>")
        if mode is Misbehaviour.DOCTYPE:
            return Answer(200, {"content-type": SOAP_CT}, b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
        if self.require_signature:
            try:
                signer = verify_closed_question(request.body)
            except TwiinError as exc:
                return Answer(400, {"content-type": SOAP_CT}, soap_fault("soap:Sender", exc.message))
            if request.peer_certificate is not None and signer != request.peer_certificate:
                fault = soap_fault("soap:Sender", "signing certificate is not the TLS client certificate")
                return Answer(400, {"content-type": SOAP_CT}, fault)
        try:
            question, message_id = parse_closed_question(request.body)
        except TwiinError as exc:
            fault = soap_fault("soap:Sender", f"invalid request: {exc.message}")
            return Answer(400, {"content-type": SOAP_CT}, fault)
        specs = self._results(question)
        return Answer(200, {"content-type": SOAP_CT}, closed_answer(specs, relates_to=message_id))

    def _results(self, question: ConsentQuestion) -> list[ResultSpec]:
        mode = self.misbehaviour
        specs = []
        for category in question.categories:
            decision = decide(self.consents, question, category).value
            if mode is Misbehaviour.NOT_APPLICABLE:
                decision = "NotApplicable"
            elif mode is Misbehaviour.INDETERMINATE:
                decision = "Indeterminate"
            elif mode is Misbehaviour.UNKNOWN_DECISION:
                decision = "Maybe"
            patient = OTHER_BSN if mode is Misbehaviour.WRONG_PATIENT else question.patient.value
            holder = "99999999" if mode is Misbehaviour.WRONG_HOLDER else question.holder_ura.value
            specs.append(ResultSpec(decision, patient, holder, question.holder_type.value, category.code))
        if mode is Misbehaviour.NO_ECHO:
            specs = [ResultSpec(s.decision, None, None, None, None) for s in specs]
        elif mode is Misbehaviour.DUPLICATE:
            specs.append(specs[0])
        elif mode is Misbehaviour.MISSING:
            specs.pop()
        elif mode is Misbehaviour.UNASKED:
            unasked = [c for c in DataCategory if c not in question.categories]
            first = specs[0]
            code = unasked[0].code if unasked else "GGC999"
            specs.append(ResultSpec("Permit", first.patient, first.holder, first.holder_type, code))
        return specs

    # -- open question ------------------------------------------------------------------------------
    def _open(self, request: IncomingRequest) -> Answer:
        if self.misbehaviour is Misbehaviour.SOAP_FAULT:
            return Answer(500, {"content-type": SOAP_CT}, soap_fault("soap:Receiver", "internal error"))
        try:
            patient, message_id = parse_open_question(request.body)
        except TwiinError as exc:
            return Answer(400, {"content-type": SOAP_CT}, soap_fault("soap:Sender", exc.message))
        found = self.locations.get(patient, [])
        return Answer(200, {"content-type": SOAP_CT}, build_open_answer(found, relates_to=message_id))

    # -- subscriptions --------------------------------------------------------------------------------
    def _subscribe(self, request: IncomingRequest) -> Answer:
        if self.subscription_status not in (201, 202):
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": "refused by fake Mitz"}],
            }
            headers = {"retry-after": "7"} if self.subscription_status == 429 else {}
            return Answer.fhir(self.subscription_status, outcome, **headers)
        try:
            resource = json.loads(request.body)
        except ValueError:
            return Answer.outcome(400, "invalid", "not JSON")
        if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
            return Answer.outcome(400, "invalid", "not a Subscription")
        with self._lock:
            self.subscriptions.append(resource)
            number = len(self.subscriptions)
        location = f"{request.url.rsplit('/Subscription', 1)[0]}/Subscription/{number}"
        return Answer(self.subscription_status, {"location": location}, b"")
