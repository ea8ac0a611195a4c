"""Parsing Mitz closed-question answers: every decision and every error case."""

from __future__ import annotations

import pytest

from tests.unit.consent.conftest import ENDPOINT, PATIENT, make_question
from twiin import errors
from twiin.consent import (
    ConsentQuestion,
    DataCategory,
    Decision,
    MitzOptions,
    build_closed_question,
    parse_closed_answer,
)
from twiin.identifiers import Bsn, Ura
from twiin.serving import IncomingRequest
from twiin.testing.fake_mitz import FakeConsent, FakeMitz, Misbehaviour, ResultSpec, closed_answer, soap_fault

G2, G12, G13 = DataCategory.GGC002, DataCategory.GGC012, DataCategory.GGC013
MID = "urn:uuid:0b7f6c1e-0000-4000-8000-000000000001"


def ask(fake: FakeMitz, question: ConsentQuestion, options: MitzOptions | None = None):  # type: ignore[no-untyped-def]
    body = build_closed_question(question, ENDPOINT, message_id=MID)
    answer = fake.handle(IncomingRequest("POST", ENDPOINT, {"content-type": "application/soap+xml"}, body))
    return parse_closed_answer(
        answer.body, question, status=answer.status, message_id=MID, options=options or MitzOptions()
    )


def spec(
    decision: str,
    category: str | None = "GGC002",
    patient: str | None = PATIENT,
    holder: str | None = "00000659",
):
    return ResultSpec(decision, patient, holder, "Z3", category)


# -- decisions ---------------------------------------------------------------------------------------


def test_permit(question: ConsentQuestion) -> None:
    decision = ask(FakeMitz([FakeConsent(Bsn(PATIENT), G2)]), question)
    assert decision.decision(G2) is Decision.PERMIT
    assert decision.allowed()
    assert decision.message_id == MID


def test_deny_when_no_consent(question: ConsentQuestion) -> None:
    decision = ask(FakeMitz(), question)
    assert decision.decision(G2) is Decision.DENY
    assert not decision.allowed()


def test_explicit_objection_denies(question: ConsentQuestion) -> None:
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), G2), FakeConsent(Bsn(PATIENT), G2, Decision.DENY)])
    assert ask(fake, question).decision(G2) is Decision.DENY


def test_mixed_categories(three: ConsentQuestion) -> None:
    decision = ask(FakeMitz([FakeConsent(Bsn(PATIENT), G13)]), three)
    assert decision.decisions == {G2: Decision.DENY, G12: Decision.DENY, G13: Decision.PERMIT}
    assert not decision.allowed()
    assert decision.allowed(G13)
    assert decision.permitted() == {G13}


def test_higher_category_covers_lower(three: ConsentQuestion) -> None:
    decision = ask(FakeMitz([FakeConsent(Bsn(PATIENT), G2)]), three)
    assert decision.allowed()


def test_results_in_any_order() -> None:
    question = make_question(G2, G13)
    body = closed_answer([spec("Deny", "GGC013"), spec("Permit", "GGC002")])
    decision = parse_closed_answer(body, question)
    assert decision.decisions == {G2: Decision.PERMIT, G13: Decision.DENY}


def test_bare_response_without_echo_needs_opt_in(question: ConsentQuestion) -> None:
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), G2)], misbehaviour=Misbehaviour.NO_ECHO)
    with pytest.raises(errors.ConsentMalformedAnswer):
        ask(fake, question)
    assert ask(fake, question, MitzOptions(require_echo=False)).allowed()


def test_no_echo_never_accepted_for_several_categories(three: ConsentQuestion) -> None:
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), G2)], misbehaviour=Misbehaviour.NO_ECHO)
    with pytest.raises(errors.ConsentMalformedAnswer):
        ask(fake, three, MitzOptions(require_echo=False))


def test_response_wrapped_in_saml_assertion_is_found(question: ConsentQuestion) -> None:
    inner = closed_answer([spec("Permit")]).decode()
    start = inner.index("<Response")
    end = inner.index("</Response>") + len("</Response>")
    wrapped = (
        inner[:start] + '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Assertion '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><x:XACMLAuthzDecisionStatement '
        'xmlns:x="urn:oasis:names:tc:xacml:3.0:profile:saml2.0:v2:schema:assertion:wd-14">'
        + inner[start:end]
        + "</x:XACMLAuthzDecisionStatement></saml:Assertion></samlp:Response>"
        + inner[end:]
    )
    assert parse_closed_answer(wrapped.encode(), question).allowed()


# -- errors ----------------------------------------------------------------------------------------------

ERROR_CASES = [
    (Misbehaviour.NOT_APPLICABLE, errors.ConsentNotApplicable),
    (Misbehaviour.INDETERMINATE, errors.ConsentIndeterminate),
    (Misbehaviour.UNKNOWN_DECISION, errors.ConsentUnknownDecision),
    (Misbehaviour.DUPLICATE, errors.ConsentDuplicateResult),
    (Misbehaviour.MISSING, errors.ConsentMissingResult),
    (Misbehaviour.UNASKED, errors.ConsentUnaskedCategory),
    (Misbehaviour.WRONG_PATIENT, errors.ConsentWrongPatient),
    (Misbehaviour.WRONG_HOLDER, errors.ConsentWrongHolder),
    (Misbehaviour.SOAP_FAULT, errors.ConsentSoapFault),
    (Misbehaviour.HTTP_ERROR, errors.ConsentHTTPError),
    (Misbehaviour.NOT_SOAP, errors.ConsentNotSoap),
    (Misbehaviour.OVERSIZE, errors.UnsafeXML),
    (Misbehaviour.DOCTYPE, errors.UnsafeXML),
]


@pytest.mark.parametrize(("mode", "error"), ERROR_CASES, ids=[m.value for m, _ in ERROR_CASES])
def test_error_cases(mode: Misbehaviour, error: type[Exception]) -> None:
    question = make_question(G2, G12)
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), G2)], misbehaviour=mode)
    with pytest.raises(error) as info:
        ask(fake, question)
    assert isinstance(info.value, errors.TwiinError)
    assert PATIENT not in str(info.value)
    assert PATIENT not in repr(info.value)
    assert "111222333" not in str(info.value)  # the BSN Mitz echoed but we never sent


def test_error_classes_are_distinct() -> None:
    classes = [e for _, e in ERROR_CASES if e is not errors.UnsafeXML]
    assert len(set(classes)) == len(classes)
    assert all(issubclass(e, errors.ConsentError) for e in classes)


def test_decision_error_names_the_category() -> None:
    question = make_question(G2, G12)
    body = closed_answer([spec("Permit"), spec("Indeterminate", "GGC012")])
    with pytest.raises(errors.ConsentIndeterminate) as info:
        parse_closed_answer(body, question)
    assert info.value.category == "GGC012"


def test_missing_category_only_one_result(three: ConsentQuestion) -> None:
    body = closed_answer([spec("Permit"), spec("Permit", "GGC013")])
    with pytest.raises(errors.ConsentMissingResult, match="GGC012"):
        parse_closed_answer(body, three)


def test_no_results_at_all(question: ConsentQuestion) -> None:
    with pytest.raises(errors.ConsentMissingResult):
        parse_closed_answer(closed_answer([]), question)


def test_unknown_category_code(question: ConsentQuestion) -> None:
    with pytest.raises(errors.ConsentUnaskedCategory):
        parse_closed_answer(closed_answer([spec("Permit", "GGC999")]), question)


def test_holder_with_other_zero_padding_is_the_same_holder(question: ConsentQuestion) -> None:
    assert parse_closed_answer(closed_answer([spec("Permit", holder="659")]), question).allowed()
    assert Ura("659") == question.holder_ura


def test_soap_fault_fields() -> None:
    body = soap_fault("soap:Sender", "BSN 900186021 is not known", subcode="otv:UnknownPatient")
    with pytest.raises(errors.ConsentSoapFault) as info:
        parse_closed_answer(body, make_question(), status=400)
    assert info.value.fault_code == "soap:Sender"
    assert info.value.subcode == "otv:UnknownPatient"
    assert info.value.status == 400
    assert "900186021" not in str(info.value)


def test_soap_fault_even_with_status_200() -> None:
    with pytest.raises(errors.ConsentSoapFault):
        parse_closed_answer(soap_fault("soap:Receiver", "x"), make_question())


def test_non_soap_error_status_is_http_error_not_malformed() -> None:
    with pytest.raises(errors.ConsentHTTPError) as info:
        parse_closed_answer(b"<html>Bad gateway</html>", make_question(), status=502)
    assert info.value.status == 502
    with pytest.raises(errors.ConsentHTTPError):
        parse_closed_answer(closed_answer([spec("Permit")]), make_question(), status=500)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b'{"decision": "Permit"}',
        b"<Envelope/>",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
    ],
)
def test_non_soap_200(body: bytes) -> None:
    with pytest.raises(errors.ConsentNotSoap):
        parse_closed_answer(body, make_question())


def test_relates_to_mismatch(question: ConsentQuestion) -> None:
    body = closed_answer([spec("Permit")], relates_to="urn:uuid:someone-else")
    with pytest.raises(errors.ConsentRelatesToMismatch):
        parse_closed_answer(body, question, message_id=MID)
    assert parse_closed_answer(body, question).allowed()


def test_two_responses_are_malformed(question: ConsentQuestion) -> None:
    text = closed_answer([spec("Permit")]).decode()
    start, end = text.index("<Response"), text.index("</Response>") + len("</Response>")
    doubled = text[:end] + text[start:end] + text[end:]
    with pytest.raises(errors.ConsentMalformedAnswer):
        parse_closed_answer(doubled.encode(), question)
