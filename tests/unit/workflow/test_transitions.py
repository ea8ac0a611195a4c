"""The pure Task changes of both roles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from twiin import naming
from twiin.errors import IllegalTransition
from twiin.exchange.workflow import Role
from twiin.exchange.workflow import transitions as tr
from twiin.validation import validate

from . import examples as ex
from .conftest import AT


def test_fulfiller_life_cycle_single_fulfiller() -> None:
    task = {**ex.ct_invited(), "code": {"coding": [{"system": ex.TASK_CODE, "code": "fulfill"}]}}
    task["for"] = {"reference": f"Patient/{ex.PATIENT_ID}"}
    received = tr.receive(task, at=AT)
    accepted = tr.accept(received, at=AT)
    started = tr.start(accepted, at=AT + timedelta(hours=1))
    done = tr.complete(
        started, at=AT + timedelta(hours=2), outputs=[{"type": {"text": "report"}, "valueString": "ok"}]
    )
    assert [t["status"] for t in (received, accepted, started, done)] == [
        "received",
        "accepted",
        "in-progress",
        "completed",
    ]
    assert started["executionPeriod"] == {"start": "2026-10-09T08:00:00+00:00"}
    assert done["executionPeriod"]["end"] == "2026-10-09T09:00:00+00:00"
    assert done["output"][-1]["valueString"] == "ok"
    assert done["lastModified"] == "2026-10-09T09:00:00+00:00"
    assert task["status"] == "requested"  # the input is never mutated
    for step in (received, accepted, started, done):
        assert validate(step) == []


def test_bid_is_an_output() -> None:
    accepted = tr.accept(ex.ct_invited(), at=AT, bid="Available from 2026-10-12")
    assert accepted["output"] == [{"type": {"text": "Bid"}, "valueString": "Available from 2026-10-12"}]


def test_never_start_while_bidding() -> None:
    accepted = tr.accept(ex.ct_invited(), at=AT)
    with pytest.raises(IllegalTransition, match="fulfill"):
        tr.start(accepted, at=AT)


def test_start_needs_acceptance() -> None:
    with pytest.raises(IllegalTransition):
        tr.start(ex.ct_selected() | {"status": "requested"}, at=AT)


def test_reject_needs_reason_text_and_not_the_reserved_code() -> None:
    rejected = tr.reject(ex.ct_invited(), "no capacity", at=AT)
    assert rejected["statusReason"] == {"text": "no capacity"}
    assert validate(rejected) == []
    with pytest.raises(IllegalTransition, match="reason"):
        tr.reject(ex.ct_invited(), "", at=AT)
    reserved = {"coding": [{"system": naming.CS_TA_WORKFLOW, "code": "not-selected"}]}
    with pytest.raises(IllegalTransition, match="reserved"):
        tr.reject(ex.ct_invited(), "x", at=AT, concept=reserved)


def test_fail_by_either_party_only_from_in_progress() -> None:
    failed = tr.fail(ex.ct_in_progress(), "patient moved", at=AT)
    assert failed["status"] == "failed"
    assert "end" in failed["executionPeriod"]
    by_placer = tr.fail(ex.ct_in_progress(), "cancelled on request", at=AT, role=Role.PLACER)
    assert "end" not in by_placer["executionPeriod"]
    with pytest.raises(IllegalTransition):
        tr.fail(ex.ct_selected(), "x", at=AT)


def test_select_and_not_selected() -> None:
    candidate = tr.accept(ex.ct_invited(), at=AT, bid="soon")
    chosen = tr.select(candidate, f"Patient/{ex.PATIENT_ID}", at=AT)
    assert chosen["businessStatus"]["coding"][0]["code"] == "selected"
    assert chosen["code"]["coding"][0]["code"] == "fulfill"
    assert chosen["for"] == {"reference": f"Patient/{ex.PATIENT_ID}"}
    assert chosen["status"] == "accepted"
    assert validate(chosen) == []
    other = tr.mark_not_selected(ex.ct_invited(), at=AT)
    assert other["status"] == "cancelled"
    assert other["statusReason"]["text"] == "not selected"
    assert validate(other) == []
    with pytest.raises(IllegalTransition):
        tr.select(ex.ct_invited(), f"Patient/{ex.PATIENT_ID}", at=AT)  # not accepted yet
    with pytest.raises(IllegalTransition):
        tr.select(candidate, "Organization/1", at=AT)
    with pytest.raises(IllegalTransition):
        tr.mark_not_selected(ex.ct_in_progress(), at=AT)


def test_placer_cancel_only_before_work_started() -> None:
    assert tr.cancel(ex.ct_invited(), "no longer needed", at=AT)["status"] == "cancelled"
    with pytest.raises(IllegalTransition):
        tr.cancel(ex.ct_in_progress(), "too late", at=AT)


def test_cancellation_request_answers() -> None:
    assert tr.accept_cancellation_request(ex.crt(), at=AT)["status"] == "accepted"
    rejected = tr.reject_cancellation_request(ex.crt(), "work continues", at=AT)
    assert rejected["statusReason"]["text"] == "work continues"
    assert tr.withdraw_cancellation_request(ex.crt(), "resolved", at=AT)["status"] == "cancelled"
    with pytest.raises(IllegalTransition):
        tr.accept_cancellation_request(rejected, at=AT)


def test_authorization_cancellation_answers() -> None:
    accepted = tr.accept_authorization_cancellation(ex.acrt(), at=AT)
    assert accepted["status"] == "accepted"
    assert accepted["statusReason"] == ex.acrt()["statusReason"]
    rejected = tr.reject_authorization_cancellation(ex.acrt(), "service still needed", at=AT)
    assert rejected["statusReason"]["text"] == "service still needed"
    for result in (accepted, rejected):
        assert validate(result) == []
    with pytest.raises(IllegalTransition):
        tr.accept_authorization_cancellation(rejected, at=AT)


def test_enter_in_error() -> None:
    assert tr.enter_in_error(ex.ct_in_progress(), "wrong patient", at=AT)["status"] == "entered-in-error"
