"""Selection planning and transaction responses, without a server."""

from __future__ import annotations

import pytest

from twiin.errors import ExchangeError, FHIRError, IllegalTransition, PreconditionFailedError
from twiin.exchange.workflow import Versioned, plan_selection, selection_bundle
from twiin.exchange.workflow import transitions as tr
from twiin.exchange.workflow.selection import parse_transaction_response

from . import examples as ex
from .conftest import AT


def candidates() -> tuple[Versioned, list[Versioned]]:
    sr = Versioned.of(ex.service_request(), "s1")
    a = Versioned(tr.accept(ex.ct_invited(), at=AT, bid="soon") | {"id": "a"}, "a1")
    b = Versioned(tr.accept(ex.ct_invited(), at=AT) | {"id": "b", "owner": ex.owner_b()}, "b1")
    c = Versioned(tr.reject(ex.ct_invited(), "full", at=AT) | {"id": "c"}, "c1")
    return sr, [a, b, c]


def test_plan_and_bundle() -> None:
    sr, tasks = candidates()
    plan = plan_selection(sr, tasks, "a", at=AT)
    bundle = selection_bundle(plan)
    assert bundle["type"] == "transaction"
    assert [e["request"]["url"] for e in bundle["entry"]] == [
        "Task/a",
        f"ServiceRequest/{ex.SR_ID}",
        "Task/b",
    ]
    assert [e["request"]["ifMatch"] for e in bundle["entry"]] == ['W/"a1"', 'W/"s1"', 'W/"b1"']
    assert all(e["request"]["method"] == "PUT" for e in bundle["entry"])
    assert bundle["entry"][1]["resource"]["performer"] == [ex.owner_a()]


def test_plan_refusals() -> None:
    sr, tasks = candidates()
    with pytest.raises(ExchangeError, match="not a Coordination Task"):
        plan_selection(sr, tasks, "zzz", at=AT)
    with pytest.raises(IllegalTransition):
        plan_selection(sr, tasks, "c", at=AT)  # rejected candidate
    taken = Versioned.of(ex.service_request() | {"performer": [ex.owner_b()]}, "s2")
    with pytest.raises(IllegalTransition, match="another performer"):
        plan_selection(taken, tasks, "a", at=AT)
    no_patient = Versioned.of({k: v for k, v in ex.service_request().items() if k != "subject"}, "s3")
    with pytest.raises(ExchangeError, match="subject"):
        plan_selection(no_patient, tasks, "a", at=AT)
    with pytest.raises(ExchangeError):
        plan_selection(tasks[0], tasks, "a", at=AT)


def test_resuming_a_half_done_selection() -> None:
    sr, tasks = candidates()
    selected = Versioned(tr.select(tasks[0].resource, f"Patient/{ex.PATIENT_ID}", at=AT), "a2")
    plan = plan_selection(sr, [selected, *tasks[1:]], "a", at=AT)
    assert plan.selected is None
    assert [r["id"] for r, _ in plan.updates()] == [ex.SR_ID, "b"]
    with pytest.raises(IllegalTransition, match="exactly one"):
        plan_selection(sr, [selected, *tasks[1:]], "b", at=AT)


def test_no_version_no_bundle() -> None:
    sr, tasks = candidates()
    plan = plan_selection(sr, [Versioned(tasks[0].resource, None)], "a", at=AT)
    with pytest.raises(ExchangeError, match="no version"):
        selection_bundle(plan)


def test_parse_transaction_response() -> None:
    sr, tasks = candidates()
    submitted = plan_selection(sr, tasks, "a", at=AT).updates()
    response = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {"response": {"status": "200 OK", "etag": 'W/"a2"'}},
            {"response": {"status": "200", "location": f"ServiceRequest/{ex.SR_ID}/_history/s2"}},
            {"response": {"status": "200 OK"}, "resource": submitted[2][0] | {"meta": {"versionId": "b2"}}},
        ],
    }
    done = parse_transaction_response(response, submitted)
    assert [v.version_id for v in done] == ["a2", "s2", "b2"]
    assert done[0].resource["meta"]["versionId"] == "a2"
    for status, error in (("412 Precondition Failed", PreconditionFailedError), ("409", FHIRError)):
        broken = {**response, "entry": [*response["entry"][:2], {"response": {"status": status}}]}
        with pytest.raises(error):
            parse_transaction_response(broken, submitted)
    with pytest.raises(ExchangeError):
        parse_transaction_response({"type": "batch-response", "entry": []}, submitted)
    with pytest.raises(ExchangeError):
        parse_transaction_response({**response, "entry": response["entry"][:1]}, submitted)
