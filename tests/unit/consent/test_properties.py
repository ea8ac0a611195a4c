"""Property tests: no input makes a consent parser raise anything but a twiin error."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.consent.conftest import ENDPOINT, PATIENT, make_question
from twiin.consent import (
    DataCategory,
    Decision,
    MitzSubscriptions,
    build_closed_question,
    parse_closed_answer,
    parse_closed_question,
    parse_open_answer,
)
from twiin.errors import TwiinError
from twiin.testing.fake_mitz import ResultSpec, closed_answer

QUESTION = make_question(DataCategory.GGC002, DataCategory.GGC013)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_ANSWER = closed_answer(
    [
        ResultSpec("Permit", PATIENT, "00000659", "Z3", "GGC002"),
        ResultSpec("Deny", PATIENT, "00000659", "Z3", "GGC013"),
    ]
)
VALID_REQUEST = build_closed_question(QUESTION, ENDPOINT)


def _mutate(base: bytes, data: st.DataObject) -> bytes:
    """Cut, splice or replace a slice of ``base`` with arbitrary bytes."""
    start = data.draw(st.integers(0, len(base)))
    end = data.draw(st.integers(start, min(len(base), start + 64)))
    insert = data.draw(
        st.binary(max_size=32) | st.sampled_from([b"<", b">", b"&", b'"', b"<!--", b"]]>", b"\x00"])
    )
    return base[:start] + insert + base[end:]


def _only_twiin_errors(call, body: bytes) -> None:  # type: ignore[no-untyped-def]
    try:
        call(body)
    except TwiinError:
        pass


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes(body: bytes) -> None:
    _only_twiin_errors(lambda b: parse_closed_answer(b, QUESTION), body)
    _only_twiin_errors(parse_closed_question, body)
    _only_twiin_errors(lambda b: parse_open_answer(b, message_id="urn:uuid:x"), body)
    _only_twiin_errors(lambda b: MitzSubscriptions.parse_notification(b, "application/fhir+xml"), body)
    _only_twiin_errors(lambda b: MitzSubscriptions.parse_notification(b, "application/fhir+json"), body)


@SETTINGS
@given(st.data())
def test_mutated_answers(data: st.DataObject) -> None:
    body = _mutate(VALID_ANSWER, data)
    status = data.draw(st.sampled_from([200, 200, 400, 500, 503]))
    try:
        decision = parse_closed_answer(body, QUESTION, status=status)
    except TwiinError:
        return
    # whatever survives mutation is still a complete, clean answer to the question
    assert set(decision.decisions) == set(QUESTION.categories)
    assert all(isinstance(d, Decision) for d in decision.decisions.values())


@SETTINGS
@given(st.data())
def test_mutated_requests(data: st.DataObject) -> None:
    _only_twiin_errors(parse_closed_question, _mutate(VALID_REQUEST, data))


@SETTINGS
@given(
    st.lists(
        st.builds(
            ResultSpec,
            st.sampled_from(
                ["Permit", "Deny", "NotApplicable", "Indeterminate", "", "permit", "Perm\u00eft"]
            ),
            st.sampled_from([PATIENT, "111222333", None, "", "abc"]),
            st.sampled_from(["00000659", "659", "99999999", None, "x" * 20]),
            st.sampled_from(["Z3", None]),
            st.sampled_from(["GGC002", "GGC012", "GGC013", "GGC999", None, ""]),
        ),
        max_size=5,
    )
)
def test_structured_answers(results: list[ResultSpec]) -> None:
    try:
        decision = parse_closed_answer(closed_answer(results), QUESTION)
    except TwiinError:
        return
    assert set(decision.decisions) == set(QUESTION.categories)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


@SETTINGS
@given(json_values)
def test_random_json_notifications(value: object) -> None:
    body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": value}).encode()
    _only_twiin_errors(lambda b: MitzSubscriptions.parse_notification(b, "application/fhir+json"), body)
