"""Who may change what: element rules, server-side check_update / check_create, the IG examples."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fhir.resources.R4B.task import Task

from twiin.errors import IllegalTransition
from twiin.exchange.workflow import (
    Role,
    TaskKind,
    check_change,
    check_create,
    check_update,
    ensure_allowed,
    roles_of,
    task_kind,
)
from twiin.identifiers import Ura
from twiin.validation import validate

from . import examples as ex

PLACER = Ura(ex.PLACER_URA)
FULFILLER_A = Ura(ex.FULFILLER_A_URA)
FULFILLER_B = Ura(ex.FULFILLER_B_URA)
STRANGER = Ura("99999999")
CS = ex.CS


def keys(violations: list[Any]) -> set[str]:
    return {v.key for v in violations}


@pytest.mark.parametrize(
    ("factory", "kind"),
    [
        (ex.ct_invited, TaskKind.COORDINATION),
        (ex.ct_selected, TaskKind.COORDINATION),
        (ex.ct_not_selected, TaskKind.COORDINATION),
        (ex.ct_in_progress, TaskKind.COORDINATION),
        (ex.crt, TaskKind.CANCELLATION_REQUEST),
        (ex.acrt, TaskKind.AUTHORIZATION_CANCELLATION_REQUEST),
    ],
)
def test_ig_examples_parse_validate_and_are_recognised(
    factory: Callable[[], dict[str, Any]], kind: TaskKind
) -> None:
    task = factory()
    Task.model_validate(task)
    assert validate(task) == []
    assert task_kind(task) is kind
    without_profile = {k: v for k, v in task.items() if k != "meta"}
    assert task_kind(without_profile) is kind


def test_roles() -> None:
    assert roles_of(ex.ct_invited(), PLACER) == {Role.PLACER}
    assert roles_of(ex.ct_invited(), FULFILLER_A) == {Role.FULFILLER}
    assert roles_of(ex.ct_invited(), FULFILLER_B) == set()
    assert roles_of(ex.ct_not_selected(), FULFILLER_B) == {Role.FULFILLER}
    assert roles_of(ex.acrt(), PLACER) == {Role.PLACER}
    assert roles_of(ex.acrt(), FULFILLER_A) == {Role.FULFILLER}
    crt = ex.crt()
    del crt["requester"]
    assert roles_of(crt, PLACER) == set()
    assert roles_of(crt, PLACER, placer_ura=PLACER) == {Role.PLACER}


def _with(task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    new = copy.deepcopy(task)
    for name, value in changes.items():
        key = "for" if name == "for_" else name
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    return new


def test_fulfiller_accepts_with_a_bid() -> None:
    old = ex.ct_invited()
    new = _with(old, status="accepted", output=[{"type": {"text": "Bid"}, "valueString": "tomorrow"}])
    assert check_update(old, new, FULFILLER_A) == []


def test_placer_selects_an_accepted_candidate() -> None:
    old = _with(ex.ct_invited(), status="accepted")
    new = _with(
        old,
        businessStatus={"coding": [{"system": CS, "code": "selected"}]},
        code={"coding": [{"system": ex.TASK_CODE, "code": "fulfill"}]},
        for_={"reference": f"Patient/{ex.PATIENT_ID}"},
    )
    assert check_update(old, new, PLACER) == []
    # the Fulfiller cannot select itself
    assert {"wf-not-writable"} <= keys(check_update(old, new, FULFILLER_A))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"for_": None}, "wf-selection"),  # selected without for (ct-3)
        ({"code": {"coding": [{"system": CS, "code": "request-fulfillment"}]}}, "wf-selection"),
        ({"status": "requested"}, "wf-selection"),
    ],
)
def test_broken_selections(changes: dict[str, Any], expected: str) -> None:
    old = _with(ex.ct_invited(), status="accepted")
    new = _with(
        old,
        businessStatus={"coding": [{"system": CS, "code": "selected"}]},
        code={"coding": [{"system": ex.TASK_CODE, "code": "fulfill"}]},
        for_={"reference": f"Patient/{ex.PATIENT_ID}"},
    )
    new = _with(new, **changes)
    assert expected in keys(check_update(old, new, PLACER))


def test_selecting_a_requested_candidate_is_refused() -> None:
    old = ex.ct_invited()
    new = _with(
        old,
        businessStatus={"coding": [{"system": CS, "code": "selected"}]},
        code={"coding": [{"system": ex.TASK_CODE, "code": "fulfill"}]},
        for_={"reference": f"Patient/{ex.PATIENT_ID}"},
    )
    assert "wf-selection" in keys(check_update(old, new, PLACER))


def test_a_selection_is_not_withdrawn() -> None:
    old = ex.ct_selected()
    new = _with(old, businessStatus=None)
    assert "wf-selection" in keys(check_update(old, new, PLACER))


def test_start_only_with_fulfill() -> None:
    bidding = _with(ex.ct_invited(), status="accepted")
    assert "wf-start-needs-fulfill" in keys(
        check_update(bidding, _with(bidding, status="in-progress"), FULFILLER_A)
    )
    selected = ex.ct_selected()
    assert check_update(selected, _with(selected, status="in-progress"), FULFILLER_A) == []


def test_not_selected_is_reserved_to_the_placer() -> None:
    old = ex.ct_invited()
    reason = {"coding": [{"system": CS, "code": "not-selected"}], "text": "not selected"}
    by_fulfiller = check_update(old, _with(old, status="rejected", statusReason=reason), FULFILLER_A)
    assert {"wf-not-selected-reserved", "wf-not-selected-status"} <= keys(by_fulfiller)
    assert check_update(old, _with(old, status="cancelled", statusReason=reason), PLACER) == []
    wrong_status = check_update(old, _with(old, status="entered-in-error", statusReason=reason), PLACER)
    assert "wf-not-selected-status" in keys(wrong_status)


@pytest.mark.parametrize(
    "element",
    ["businessStatus", "for", "input", "location", "description", "priority", "code"],
)
def test_fulfiller_may_not_write_placer_elements(element: str) -> None:
    old = ex.ct_in_progress()
    new = copy.deepcopy(old)
    new[element] = {"text": "changed"} if element != "description" else "changed"
    assert "wf-not-writable" in keys(check_update(old, new, FULFILLER_A))


@pytest.mark.parametrize("element", ["identifier", "requester", "owner", "focus", "authoredOn", "intent"])
def test_nobody_changes_the_identity_of_a_task(element: str) -> None:
    old = ex.ct_in_progress()
    new = copy.deepcopy(old)
    new[element] = "changed"
    assert "wf-immutable" in keys(check_update(old, new, PLACER))
    assert "wf-immutable" in keys(check_update(old, new, FULFILLER_A))


def test_placer_does_not_write_the_fulfillers_output() -> None:
    old = ex.ct_in_progress()
    new = _with(old, output=[{"type": {"text": "x"}, "valueString": "y"}])
    assert "wf-not-writable" in keys(check_update(old, new, PLACER))
    assert check_update(old, new, FULFILLER_A) == []


def test_meta_and_narrative_are_ignored() -> None:
    old = ex.ct_in_progress()
    new = _with(old, meta={**old["meta"], "versionId": "7", "lastUpdated": "2026-10-12T10:00:00Z"})
    new["text"] = {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>x</div>"}
    assert check_update(old, new, FULFILLER_A) == []


def test_role_comes_from_the_stored_task_not_the_body() -> None:
    old = ex.ct_invited()
    forged = _with(old, status="cancelled", statusReason={"text": "x"})
    forged["requester"] = {"identifier": {"system": ex.URA, "value": ex.FULFILLER_A_URA}}
    found = keys(check_update(old, forged, FULFILLER_A))
    assert "wf-immutable" in found
    assert "wf-status" in found


def test_strangers_are_not_a_party() -> None:
    old = ex.ct_invited()
    assert keys(check_update(old, _with(old, status="accepted"), STRANGER)) == {"wf-not-party"}
    assert keys(check_update(old, _with(old, status="accepted"), FULFILLER_B)) == {"wf-not-party"}


def test_unknown_resources_are_reported_not_raised() -> None:
    assert keys(check_update({"resourceType": "Task"}, {"resourceType": "Task"}, PLACER)) == {
        "wf-unknown-task"
    }
    assert keys(check_create({"resourceType": "Task", "status": "requested"}, PLACER)) == {"wf-unknown-task"}


def test_profile_change_is_refused() -> None:
    old = ex.crt()
    new = _with(old, meta={"profile": [ex.WF + "/StructureDefinition/twiin-coordination-task"]})
    assert "wf-kind-changed" in keys(check_update(old, new, PLACER))


def test_cancellation_request_answers() -> None:
    old = ex.crt()
    assert check_update(old, _with(old, status="accepted"), FULFILLER_A) == []
    assert (
        check_update(old, _with(old, status="rejected", statusReason={"text": "nearly done"}), FULFILLER_A)
        == []
    )
    assert "wf-status" in keys(check_update(old, _with(old, status="accepted"), PLACER))
    assert check_update(old, _with(old, status="cancelled"), PLACER) == []
    assert "wf-status" in keys(check_update(old, _with(old, status="completed"), FULFILLER_A))


def test_authorization_cancellation_answers() -> None:
    old = ex.acrt()
    assert check_update(old, _with(old, status="accepted"), PLACER) == []
    assert "wf-status" in keys(check_update(old, _with(old, status="accepted"), FULFILLER_A))
    assert "wf-status" in keys(check_update(old, _with(old, status="cancelled"), PLACER))
    # the Fulfiller may not even touch its own request after creation
    assert "wf-not-writable" in keys(
        check_update(old, _with(old, statusReason={"text": "other"}), FULFILLER_A)
    )


def test_check_create() -> None:
    assert check_create(ex.acrt(), FULFILLER_A, placer_ura=PLACER) == []
    assert keys(check_create(ex.acrt(), FULFILLER_B, placer_ura=PLACER)) == {"wf-not-party"}
    other_owner = ex.acrt()
    other_owner["owner"]["identifier"]["value"] = "55555555"
    assert keys(check_create(other_owner, FULFILLER_A, placer_ura=PLACER)) == {"wf-not-party"}
    assert "wf-status" in keys(check_create({**ex.acrt(), "status": "accepted"}, FULFILLER_A))
    # a Fulfiller cannot create Coordination or Cancellation Request Tasks
    assert "wf-status" in keys(check_create(ex.ct_invited(), FULFILLER_A))
    assert keys(check_create(ex.ct_invited(), STRANGER)) == {"wf-not-party"}
    # the Placer creates them in status requested, and never bidding with a patient
    assert check_create(ex.ct_invited(), PLACER) == []
    with_patient = _with(ex.ct_invited(), for_={"reference": "Patient/1"})
    assert "wf-for-before-selection" in keys(check_create(with_patient, PLACER))
    supplemental = ex.ct_invited()
    supplemental["input"].append(
        {"type": {"coding": [{"system": CS, "code": "supplemental-query"}]}, "valueString": "x"}
    )
    assert "wf-supplemental-before-selection" in keys(check_create(supplemental, PLACER))


def test_ensure_allowed_raises_typed_error() -> None:
    old = ex.ct_invited()
    with pytest.raises(IllegalTransition, match="wf-status") as info:
        ensure_allowed(old, _with(old, status="completed"), Role.FULFILLER)
    assert (info.value.current, info.value.requested) == ("requested", "completed")
    assert check_change(old, _with(old, status="accepted"), Role.FULFILLER) == []


def test_violation_messages_carry_no_patient_data() -> None:
    old = ex.ct_in_progress()
    new = _with(
        old, for_={"reference": "Patient/999999151", "identifier": {"system": "x", "value": "999999151"}}
    )
    for violation in check_update(old, new, PLACER) + check_update(old, new, FULFILLER_A):
        assert "999999151" not in violation.message
        assert "999999151" not in violation.path


def test_null_is_not_the_same_as_absent() -> None:
    old = ex.ct_invited()
    new = {**old, "businessStatus": None}
    assert "wf-not-writable" in keys(check_update(old, new, FULFILLER_A))
