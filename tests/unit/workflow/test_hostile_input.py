"""Outside input (a Fulfiller's body, a stored Task of unknown quality) never escapes as a bare error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twiin.errors import TwiinError
from twiin.exchange.workflow import check_create, check_update, guard_task_write, task_kind
from twiin.identifiers import Ura
from twiin.serving import Answer, IncomingRequest

from . import examples as ex

PLACER = Ura(ex.PLACER_URA)
FULFILLER = Ura(ex.FULFILLER_A_URA)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "status",
        "code",
        "owner",
        "requester",
        "for",
        "businessStatus",
        "statusReason",
        "input",
        "meta",
        "intent",
        "focus",
    ]
)


@st.composite
def mutated_tasks(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.sampled_from([ex.ct_invited, ex.ct_selected, ex.ct_in_progress, ex.crt, ex.acrt]))()
    for key, value in draw(st.dictionaries(keys, json_values, max_size=4)).items():
        base[key] = value
    return base


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_tasks(), mutated_tasks(), st.sampled_from([PLACER, FULFILLER, Ura("1")]))
def test_check_update_always_answers_with_violations(
    old: dict[str, Any], new: dict[str, Any], ura: Ura
) -> None:
    result = check_update(old, new, ura)
    assert isinstance(result, list)
    assert isinstance(check_create(new, ura, placer_ura=PLACER), list)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_tasks())
def test_task_kind_is_typed(task: dict[str, Any]) -> None:
    try:
        task_kind(task)
    except TwiinError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
    st.one_of(
        st.binary(max_size=40),
        mutated_tasks().map(lambda t: json.dumps(t).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
    ),
    st.one_of(st.none(), st.just(ex.ct_invited() | {"meta": {"versionId": "1"}})),
    st.sampled_from([None, 'W/"1"', '"2"', "garbage"]),
)
def test_guard_always_answers(method: str, body: bytes, stored: Any, if_match: str | None) -> None:
    headers = {"if-match": if_match} if if_match else {}
    request = IncomingRequest(method, "https://placer.example.org/fhir/Task/x", headers, body)
    answer = guard_task_write(request, stored=stored, requester_ura=FULFILLER, placer_ura=PLACER)
    assert answer is None or isinstance(answer, Answer)
    if answer is not None:
        assert 400 <= answer.status < 500
        assert b"999999151" not in answer.body
